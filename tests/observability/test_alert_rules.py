"""The alert rules and the dashboard hold together: every alert names an entry of docs/runbook.md
that exists, and every metric their queries use is one /metrics exports once the code that moves
it has run (a renamed metric would leave an alert that can never fire)."""

import json
import re
from pathlib import Path

import pytest
import yaml

from core import heartbeat
from core.tasks import heartbeat as heartbeat_task
from ledger.tasks import verify_ledger
from reconciliation.tasks import reconcile_provider
from tests.payments.helpers import authorize, capture, create_payment
from tests.reconciliation.conftest import settlement_faults, today, traffic  # noqa: F401 (fixtures)

from .scrape import exported_names, metrics_text

ROOT = Path(__file__).resolve().parent.parent.parent
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "payments.json"
RUNBOOK = ROOT / "docs" / "runbook.md"

# Series Prometheus makes itself, not the application.
PROMETHEUS_SERIES = {"up"}
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard_exprs() -> list[str]:
    return [target["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for target in panel["targets"]]


def runbook_anchors() -> set[str]:
    """GitHub's anchors of the runbook's headings: lower case, punctuation dropped, spaces to '-'."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression: identifiers outside strings, label matchers,
    ranges and grouping clauses, that are not functions or keywords."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr):
        name, is_call = match.group(1), match.group(2)
        if not is_call and name not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]", name):
            names.add(name)
    return names


def test_the_metric_name_reader_finds_metrics_and_skips_functions_labels_and_ranges():
    expr = 'sum by (provider, le) (rate(a_seconds_bucket{operation=~"x|y"}[5m])) > 5 and time() - b_ts offset 1h'
    assert metric_names(expr) == {"a_seconds_bucket", "b_ts"}


def test_every_alert_has_a_summary_and_a_runbook_entry_that_exists():
    anchors = runbook_anchors()
    rules = alert_rules()
    assert len(rules) >= 13
    for rule in rules:
        runbook = rule.get("annotations", {}).get("runbook", "")
        path, _, anchor = runbook.partition("#")
        assert path == "docs/runbook.md" and anchor in anchors, (rule["alert"], runbook)
        assert rule["annotations"].get("summary"), rule["alert"]


def exercise(api) -> None:
    """Everything that makes a metric appear: payments, a refused notification, the nightly jobs,
    the heartbeats."""
    declined = create_payment(api, provider="cielo", payment_method={"type": "card", "token": "tok_decline"})
    authorize(api, declined["id"])
    approved = create_payment(api, provider="cielo", capture_method="manual")
    authorize(api, approved["id"])
    capture(api, approved["id"])
    verify_ledger.apply().get()
    heartbeat_task.apply().get()
    heartbeat.heartbeat_sent(sender=heartbeat.HEARTBEAT_TASK)


@pytest.mark.django_db(transaction=True)
def test_every_metric_the_alerts_and_the_dashboard_use_is_exported(
    api,
    client,
    monkeypatch,
    traffic,  # noqa: F811
    settlement_faults,  # noqa: F811
    today,  # noqa: F811
):
    monkeypatch.setattr(heartbeat, "_in_beat", True)
    exercise(api)
    traffic("rede").captured(10_000)
    reconcile_provider.apply(args=["rede"], kwargs={"business_date": today.isoformat()}).get()
    client.post("/webhooks/providers/rede/", b"{}", content_type="application/json")  # unsigned: refused
    exported = exported_names(metrics_text(client))

    used = {}
    for rule in alert_rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        used.update(dict.fromkeys(names, rule["alert"]))
    for expr in dashboard_exprs():
        names = metric_names(expr)
        assert names, expr
        used.update(dict.fromkeys(names, "dashboard"))

    missing = {name: where for name, where in used.items() if name not in exported | PROMETHEUS_SERIES}
    assert missing == {}
    # The counters are among them: their families are declared before their first sample.
    assert {"rate_limiter_fail_open_total", "rate_limited_requests_total"} <= exported
