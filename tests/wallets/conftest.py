import pytest
from django.db import connection

from tests.ledger.conftest import check_deferred_constraints


@pytest.fixture(autouse=True)
def _commit_time_checks(db):
    """A `db` test is rolled back, never committed: run the database's commit-time checks (the
    ledger's deferred balance triggers, foreign keys) at its end, as a commit would."""
    yield
    if connection.in_atomic_block:
        check_deferred_constraints()
