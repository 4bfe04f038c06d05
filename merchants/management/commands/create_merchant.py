import json

from django.core.management.base import BaseCommand

from merchants.services import merchant_create


class Command(BaseCommand):
    help = "Creates a merchant and prints its id and API key (the key is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--json", dest="as_json", action="store_true", help='Print {"id": ..., "api_key": ...}.')

    def handle(self, *args, name: str, as_json: bool, **options):
        merchant, api_key = merchant_create(name=name)
        if as_json:
            self.stdout.write(json.dumps({"id": merchant.id, "api_key": api_key}))
        else:
            self.stdout.write(f"merchant {merchant.id} ({merchant.name})\napi key  {api_key}")
