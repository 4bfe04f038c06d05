import pytest
from django.db import connection


def check_deferred_constraints() -> None:
    """Runs now the checks PostgreSQL runs at commit (the deferred balance triggers and foreign
    keys), then defers them again for whatever the test does next."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.fixture(autouse=True)
def _commit_time_checks(db):
    """A `db` test is rolled back, never committed, so the database's commit-time checks would
    never see what it wrote: run them at the end of every such test. (Tests that request
    transactional_db commit for real.)"""
    yield
    if connection.in_atomic_block:
        check_deferred_constraints()
