"""Operational endpoints: health probes, metrics and the OpenAPI schema."""

import pytest


def test_liveness(client):
    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_checks_database_migrations_cache_and_broker(client):
    response = client.get("/health/ready")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "cache": "ok", "broker": "ok"},
    }


@pytest.mark.django_db
def test_readiness_reports_an_unavailable_dependency(client, monkeypatch):
    from core import views

    def broken():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(views, "_check_cache", broken)

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "unavailable"
    assert response.json()["checks"]["database"] == "ok"


def test_metrics_are_prometheus_text(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"# TYPE" in response.content


@pytest.mark.django_db
def test_openapi_schema_describes_the_payments_api(client):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200, response.content[:500]
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/v1/payments", "/api/v1/payments/{payment_id}/capture", "/api/v1/refunds/{refund_id}"):
        assert path in schema["paths"], sorted(schema["paths"])


@pytest.mark.django_db
def test_browsable_api_docs_page_loads(client):
    assert client.get("/api/docs/").status_code == 200
