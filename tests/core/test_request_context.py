"""Every request gets a correlation id: the caller's X-Request-ID when sane, a new one otherwise.
It is echoed in the response and carried into the request's log lines and domain events."""

import json
import logging

import pytest
from pythonjsonlogger.json import JsonFormatter

from events.models import DomainEvent
from tests.payments.helpers import API, payment_body, post

pytestmark = pytest.mark.django_db


def test_a_sane_request_id_is_echoed_and_stamped_on_the_events(api, merchant):
    response = post(api, "/payments", payment_body(), HTTP_X_REQUEST_ID="order-42.retry-1")

    assert response.status_code == 201
    assert response["X-Request-ID"] == "order-42.retry-1"
    event = DomainEvent.objects.get(aggregate_id=response.json()["id"])
    assert (event.correlation_id, event.causation_id) == ("order-42.retry-1", "order-42.retry-1")


@pytest.mark.parametrize("supplied", [None, "", "has spaces", "x" * 200, "semi;colon"])
def test_a_missing_or_unsafe_request_id_is_replaced(api, supplied):
    headers = {} if supplied is None else {"HTTP_X_REQUEST_ID": supplied}
    response = api.get(f"{API}/payments", **headers)

    assert response["X-Request-ID"].startswith("req_")
    assert response["X-Request-ID"] != supplied


def test_log_lines_are_json_with_the_correlation_id(api, caplog):
    with caplog.at_level(logging.INFO, logger="payments_core.request"):
        api.get(f"{API}/payments", HTTP_X_REQUEST_ID="trace-7")

    record = next(r for r in caplog.records if r.name == "payments_core.request")
    assert record.correlation_id == "trace-7"
    assert (record.method, record.path, record.status) == ("GET", f"{API}/payments", 200)

    line = JsonFormatter("%(levelname)s %(message)s").format(record)
    assert json.loads(line)["correlation_id"] == "trace-7"
