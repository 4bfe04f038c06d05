import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from merchants.models import Merchant
from merchants.services import api_key_issue, api_key_revoke_all

DEMO_MERCHANT_NAME = "Demo Merchant"
DEMO_OPERATOR = "operator"


class Command(BaseCommand):
    help = "Creates (or refreshes) the demo merchant and operator and prints their credentials."

    @transaction.atomic
    def handle(self, *args, **options):
        merchant, _ = Merchant.objects.get_or_create(name=DEMO_MERCHANT_NAME)
        # Keys are stored hashed, so the only way to show one is to issue a fresh one.
        api_key_revoke_all(merchant=merchant)
        api_key = api_key_issue(merchant=merchant)

        password = os.environ.get("DEMO_OPERATOR_PASSWORD") or secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_OPERATOR)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()

        self.stdout.write(
            "\n".join(
                [
                    "",
                    "=" * 72,
                    f"Demo merchant : {merchant.id} ({merchant.name})",
                    f"API key       : {api_key}",
                    f"Admin         : http://127.0.0.1:8000/admin/  user '{DEMO_OPERATOR}'  password '{password}'",
                    "API docs      : http://127.0.0.1:8000/api/docs/",
                    "=" * 72,
                    "",
                ]
            )
        )
