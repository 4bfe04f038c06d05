"""The whole story end to end, over real HTTP both ways: the providers' sandbox calls back into a
live Django server with its notifications while merchants work through the API. See
tests/webhooks/scenario.py; `make scenario` runs it with more payments."""

import os

import pytest

from tests.webhooks.scenario import RECIPES, Scenario

PAYMENTS = int(os.environ.get("SCENARIO_PAYMENTS", 10 * len(RECIPES)))
DEADLINE_SECONDS = float(os.environ.get("SCENARIO_DEADLINE_SECONDS", 50 + PAYMENTS * 0.2))


@pytest.mark.django_db(transaction=True)
def test_hundreds_of_payments_through_faults_webhooks_and_disputes_end_right(
    live_server, api_key, provider_sandbox, capsys
):
    scenario = Scenario(
        api_key=api_key,
        sandbox=provider_sandbox,
        webhook_url=f"{live_server.url}/webhooks/providers",
        payments=PAYMENTS,
    )

    scenario.run(deadline_seconds=DEADLINE_SECONDS)

    assert scenario.problems() == []
    with capsys.disabled():
        print(f"\nscenario: {PAYMENTS} payments\n{scenario.summary()}")
