"""The nightly reconciliation of each provider, as django-celery-beat rows that operators can
edit in the admin (time, enabled, arguments). Created only where missing, so a migration run
again never undoes an operator's change."""

import json

from django.db import migrations

# Staggered, after the providers publish the previous day's reports (UTC).
SCHEDULE = (("cielo", "0"), ("rede", "10"), ("getnet", "20"))


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for provider, minute in SCHEDULE:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour="4", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
        )
        PeriodicTask.objects.get_or_create(
            name=f"reconciliation: {provider} nightly",
            defaults={
                "task": "reconciliation.tasks.reconcile_provider",
                "crontab": crontab,
                "kwargs": json.dumps({"provider": provider}),
                "description": f"Fetch and reconcile {provider}'s settlement report of the previous day.",
            },
        )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[f"reconciliation: {provider} nightly" for provider, _ in SCHEDULE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
