"""The nightly job: scheduled per provider in django-celery-beat (so operators edit it in the
admin), one task per provider and day, retried while the provider cannot deliver the report, and
harmless to run again."""

import importlib
import json
from datetime import timedelta

import httpx
import pytest
from django.apps import apps
from django_celery_beat.models import PeriodicTask

from payments.models import Payment
from providers.settlement.fetch import ReportFetchFailed
from reconciliation.models import Run, SettlementReport
from reconciliation.tasks import reconcile_provider

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_provider_is_reconciled_nightly_by_a_schedule_operators_can_edit():
    # The data migration's function, run here: transactional tests empty the tables it filled.
    migration = importlib.import_module("reconciliation.migrations.0002_nightly_schedule")
    migration.create_schedule(apps, None)
    PeriodicTask.objects.filter(name="reconciliation: rede nightly").update(enabled=False)
    migration.create_schedule(apps, None)  # and again: an operator's change survives

    tasks = PeriodicTask.objects.filter(task="reconciliation.tasks.reconcile_provider").order_by("name")
    assert [(json.loads(task.kwargs), task.crontab.hour, task.enabled) for task in tasks] == [
        ({"provider": "cielo"}, "4", True),
        ({"provider": "getnet"}, "4", True),
        ({"provider": "rede"}, "4", False),
    ]


def test_the_job_reconciles_yesterday_by_default_and_runs_again_harmlessly(traffic, today):
    traffic("getnet").captured(10_000)  # today's: not in yesterday's report

    first = reconcile_provider.apply(args=["getnet"]).get()
    second = reconcile_provider.apply(args=["getnet"]).get()

    run = Run.objects.get()
    assert first == second == [run.pk]
    assert (run.provider, run.business_date, run.status) == ("getnet", today - timedelta(days=1), "completed")
    assert SettlementReport.objects.count() == 1
    assert Payment.objects.get().status == "captured"


def test_the_job_is_retried_while_the_provider_is_down_and_a_failed_attempt_leaves_nothing(traffic, sandbox, today):
    payment = traffic("cielo").captured(10_000)
    faults = f"{sandbox.url}/_control/faults"
    httpx.post(faults, json={"provider": "cielo", "outage": True}).raise_for_status()

    # A worker retries on this error, with backoff. Run eagerly, retries follow one another at
    # once: start at the next-to-last, so that the last retry fails too.
    assert ReportFetchFailed in reconcile_provider.autoretry_for
    last_but_one = reconcile_provider.max_retries - 1
    down = reconcile_provider.apply(args=["cielo"], kwargs={"business_date": today.isoformat()}, retries=last_but_one)

    assert (down.state, type(down.result)) == ("FAILURE", ReportFetchFailed)
    assert not Run.objects.exists() and not SettlementReport.objects.exists()
    httpx.delete(faults).raise_for_status()

    up = reconcile_provider.apply(args=["cielo"], kwargs={"business_date": today.isoformat()})

    assert up.state == "SUCCESS"
    assert Payment.objects.get(pk=payment["id"]).status == "settled"
