"""/health/ready answers 503, naming the check, when the code is newer than the schema: here the
ledger's latest migration is really unapplied, then applied again."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def latest_ledger_migration() -> tuple[str, str]:
    graph = MigrationExecutor(connection).loader.graph
    return next(node for node in graph.leaf_nodes() if node[0] == "ledger")


def test_ready_is_503_while_a_migration_is_unapplied(client):
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["checks"]["migrations"] == "ok"

    app, latest = latest_ledger_migration()
    previous = MigrationExecutor(connection).loader.graph.node_map[(app, latest)].parents
    (before,) = [parent.key for parent in previous if parent.key[0] == "ledger"]
    call_command("migrate", "ledger", before[1], verbosity=0)
    try:
        answer = client.get("/health/ready")
        assert answer.status_code == 503
        assert answer.json()["status"] == "unavailable"
        checks = answer.json()["checks"]
        assert checks["migrations"] == "unavailable"
        assert checks["database"] == checks["cache"] == checks["broker"] == "ok"
    finally:
        call_command("migrate", "ledger", verbosity=0)

    assert client.get("/health/ready").status_code == 200
