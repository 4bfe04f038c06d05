from typing import Any

from django import forms

from .registry import PROVIDER_NAMES


class FaultsForm(forms.Form):
    """One scope's fault settings for the sandbox; the sandbox checks them again."""

    provider = forms.ChoiceField(
        choices=[("", "all providers"), *((name, name) for name in PROVIDER_NAMES)],
        required=False,
        help_text="A provider's own settings replace the ones for all providers.",
    )
    error_rate = forms.FloatField(
        min_value=0, max_value=1, initial=0, help_text="Share of calls answered 500 before anything is done."
    )
    timeout_rate = forms.FloatField(
        min_value=0,
        max_value=1,
        initial=0,
        help_text="Share of calls done whose answer is held back until our client has given up.",
    )
    latency_ms = forms.IntegerField(min_value=0, initial=0, help_text="Added to every call.")
    outage = forms.BooleanField(required=False, help_text="Every call answered 503 at once, nothing done.")
    duration_seconds = forms.FloatField(
        min_value=0.1, required=False, help_text="The settings lapse by themselves after this long; empty: never."
    )

    def to_request(self) -> dict[str, Any]:
        """The body of `POST /_control/faults`; all-zero settings remove the scope."""
        data = self.cleaned_data
        body: dict[str, Any] = {name: data[name] for name in ("error_rate", "timeout_rate", "latency_ms", "outage")}
        if data["provider"]:
            body["provider"] = data["provider"]
        if data["duration_seconds"] is not None:
            body["duration_seconds"] = data["duration_seconds"]
        return body
