from django import forms

from core.money import is_known_currency
from providers.settlement import LAYOUTS


class ReportUploadForm(forms.Form):
    provider = forms.ChoiceField(choices=[(name, name) for name in LAYOUTS])
    business_date = forms.DateField(help_text="The day whose transactions the report settles (YYYY-MM-DD).")
    currency = forms.CharField(max_length=3, initial="BRL")
    file = forms.FileField(help_text="The provider's file, as it was received.")

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"]
        if not is_known_currency(currency):
            raise forms.ValidationError("An upper-case ISO 4217 code, such as BRL.")
        return currency
