"""Operators see the circuit breakers and the sandbox's faults in the admin, and act on them."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from providers.registry import get_provider

from .conftest import THRESHOLD

pytestmark = pytest.mark.django_db

CIRCUITS = reverse("admin:providers_providercircuit_changelist")
FAULTS = reverse("admin:providers_sandboxfaults_changelist")


def reset_url(provider: str) -> str:
    return reverse("admin:providers_providercircuit_reset", args=[provider])


@pytest.fixture
def sandbox_url(settings, sandbox_providers):
    settings.SANDBOX_URL = sandbox_providers.url
    return sandbox_providers.url


def staff_client(client, *permissions: str):
    user = User.objects.create_user("operator", password="secret", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="providers", codename__in=permissions))
    client.force_login(user)
    return client


def trip(provider: str) -> None:
    circuit = get_provider(provider).circuit
    for _ in range(THRESHOLD):
        circuit.record(circuit.allow(), failed=True, failure="HTTP 503: Service unavailable")


def row(page, provider: str) -> str:
    text = page.content.decode()
    start = text.index(f'class="circuit-{provider}"')
    return text[start : text.index("</tr>", start)]


# --- circuit breakers ------------------------------------------------------------------------------
@pytest.mark.usefixtures("breaker_settings")
def test_operators_see_each_providers_circuit_and_why_it_opened(admin_client):
    trip("cielo")

    page = admin_client.get(CIRCUITS)

    assert page.status_code == 200
    cielo = row(page, "cielo")
    assert '<td class="state">open</td>' in cielo
    assert "<td>3</td>" in cielo  # consecutive failures
    assert "HTTP 503: Service unavailable" in cielo
    assert "2023-11-14 22:13:20 UTC" in cielo  # opened at (the test clock)
    assert '<td class="state">closed</td>' in row(page, "rede")
    assert '<td class="state">closed</td>' in row(page, "getnet")
    assert reset_url("cielo") in cielo


@pytest.mark.usefixtures("breaker_settings")
def test_an_operator_closes_an_open_circuit(admin_client):
    trip("cielo")

    response = admin_client.post(reset_url("cielo"), follow=True)

    assert response.redirect_chain == [(CIRCUITS, 302)]
    assert "Cielo: circuit closed" in response.content.decode()
    assert '<td class="state">closed</td>' in row(response, "cielo")
    assert get_provider("cielo").circuit.allow() is not None


@pytest.mark.usefixtures("breaker_settings")
def test_a_reset_must_be_posted_and_name_a_provider(admin_client):
    trip("cielo")

    assert admin_client.get(reset_url("cielo")).status_code == 405
    assert admin_client.post(reset_url("stone")).status_code == 404
    assert get_provider("cielo").circuit.snapshot().state == "open"


@pytest.mark.usefixtures("breaker_settings")
def test_viewing_needs_the_view_permission_and_resetting_the_change_permission(client):
    trip("cielo")
    viewer = staff_client(client, "view_providercircuit")

    page = viewer.get(CIRCUITS)

    assert page.status_code == 200
    assert reset_url("cielo") not in page.content.decode()
    assert viewer.post(reset_url("cielo")).status_code == 403
    assert get_provider("cielo").circuit.snapshot().state == "open"


def test_staff_without_the_permissions_see_neither_page(client, sandbox_url):
    nobody = staff_client(client)

    assert nobody.get(CIRCUITS).status_code == 403
    assert nobody.get(FAULTS).status_code == 403
    assert "circuit breakers" not in nobody.get(reverse("admin:index")).content.decode().lower()


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    assert client.get(CIRCUITS).url.startswith(reverse("admin:login"))


# --- sandbox faults --------------------------------------------------------------------------------
def test_operators_see_the_faults_in_force(admin_client, sandbox_providers, sandbox_url):
    sandbox_providers.faults.set_from_request({"provider": "rede", "error_rate": 0.25, "latency_ms": 40})

    page = admin_client.get(FAULTS).content.decode()

    assert 'class="faults-rede"' in page
    assert "<td>0.25</td>" in page
    assert "<td>40</td>" in page


def test_an_operator_puts_cielo_in_outage_and_ends_it(admin_client, sandbox_providers, sandbox_url):
    form = {"provider": "cielo", "error_rate": "0", "timeout_rate": "0", "latency_ms": "0", "outage": "on"}

    response = admin_client.post(FAULTS, form, follow=True)

    assert response.redirect_chain == [(FAULTS, 302)]
    assert sandbox_providers.faults.for_provider("cielo").outage
    assert not sandbox_providers.faults.for_provider("rede").outage
    assert 'class="faults-cielo"' in response.content.decode()

    admin_client.post(FAULTS, {"clear": "Remove every fault"})

    assert sandbox_providers.faults.snapshot() == {}


def test_faults_for_all_providers_with_a_duration(admin_client, sandbox_providers, sandbox_url):
    form = {"provider": "", "error_rate": "0.5", "timeout_rate": "0.1", "latency_ms": "20", "duration_seconds": "60"}

    admin_client.post(FAULTS, form)

    scope = sandbox_providers.faults.snapshot()["all"]
    assert (scope["error_rate"], scope["timeout_rate"], scope["latency_ms"]) == (0.5, 0.1, 20)
    assert scope["expires_at"] is not None


def test_invalid_faults_are_shown_and_not_sent(admin_client, sandbox_providers, sandbox_url):
    form = {"provider": "cielo", "error_rate": "1.5", "timeout_rate": "0", "latency_ms": "0"}

    page = admin_client.post(FAULTS, form)

    assert page.status_code == 200
    assert "less than or equal to 1" in page.content.decode()
    assert sandbox_providers.faults.snapshot() == {}


def test_faults_the_sandbox_refuses_are_shown_with_its_reason(admin_client, sandbox_providers, sandbox_url):
    form = {"provider": "cielo", "error_rate": "0", "timeout_rate": "0", "latency_ms": "600000"}

    page = admin_client.post(FAULTS, form)

    assert page.status_code == 200
    assert "The sandbox refused these settings: latency_ms must be" in page.content.decode()
    assert sandbox_providers.faults.snapshot() == {}


def test_changing_faults_needs_the_change_permission(client, sandbox_providers, sandbox_url):
    viewer = staff_client(client, "view_sandboxfaults")

    assert viewer.get(FAULTS).status_code == 200
    assert viewer.post(FAULTS, {"provider": "cielo", "outage": "on"}).status_code == 403
    assert sandbox_providers.faults.snapshot() == {}


def test_without_a_sandbox_the_page_says_so(admin_client, settings, closed_port):
    settings.SANDBOX_URL = f"http://127.0.0.1:{closed_port}"

    page = admin_client.get(FAULTS)

    assert page.status_code == 200
    assert f"The sandbox at http://127.0.0.1:{closed_port}/_control/faults did not answer" in page.content.decode()


def test_the_admin_index_links_both_pages(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert f'href="{CIRCUITS}"' in page
    assert f'href="{FAULTS}"' in page
