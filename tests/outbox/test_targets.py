"""Outbound URL checks (SSRF). In production settings a webhook goes only to https URLs whose host
resolves to public addresses only, checked at registration and again before every request, and
the request goes to the address that was checked."""

import ipaddress
import socket

import pytest

from outbox.dispatch import deliveries_dispatch
from outbox.errors import InvalidWebhookUrl
from outbox.models import WebhookDelivery
from outbox.relay import relay_run
from outbox.targets import target_resolve, url_validate
from tests.outbox.factories import WebhookEndpointFactory
from tests.outbox.helpers import record
from tests.payments.helpers import assert_problem, post

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"  # an address on the public internet (never contacted by these tests)


@pytest.fixture
def production(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    return settings


@pytest.fixture
def dns(monkeypatch):
    """Name resolution as a test says: {host: [addresses]}. Address literals (the broker's) resolve
    as usual; any other name is unknown, so no test ever asks a real DNS server."""
    answers: dict[str, list[str]] = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            return real_getaddrinfo(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr("outbox.targets.socket.getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.merchant.test/webhooks",  # plain http
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://172.16.0.9/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",  # the cloud metadata service
        "https://100.64.0.1/hook",  # carrier-grade NAT
        "https://0.0.0.0/hook",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",  # IPv4 loopback mapped into IPv6
        "https://224.0.0.1/hook",
        "https://internal.merchant.test/hook",  # resolves to a private address
        "https://mixed.merchant.test/hook",  # one public and one private address
        "https://nowhere.merchant.test/hook",  # does not resolve
        "https://user:secret@hooks.merchant.test/hook",
        "https://hooks.merchant.test:0/hook",
        "https:///hook",
        "file:///etc/passwd",
        "gopher://hooks.merchant.test/",
        "https://hooks.merchant.test/hook with space",
    ],
)
def test_production_refuses_urls_that_do_not_lead_to_the_public_internet(production, dns, url):
    dns.update({"localhost": ["127.0.0.1", "::1"], "internal.merchant.test": ["10.0.0.5"]})
    dns["mixed.merchant.test"] = [PUBLIC, "192.168.0.10"]
    dns["hooks.merchant.test"] = [PUBLIC]

    with pytest.raises(InvalidWebhookUrl):
        url_validate(url)


def test_production_accepts_https_to_public_hosts(production, dns):
    dns["hooks.merchant.test"] = [PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]

    assert url_validate("https://hooks.merchant.test/webhooks?source=payments") == (
        "https://hooks.merchant.test/webhooks?source=payments"
    )
    assert url_validate(f"https://{PUBLIC}:8443/hook") == f"https://{PUBLIC}:8443/hook"
    target = target_resolve("https://hooks.merchant.test/webhooks?source=payments")
    assert target.url_for(target.addresses[0]) == f"https://{PUBLIC}:443/webhooks?source=payments"
    assert (target.host_header, target.sni_hostname) == ("hooks.merchant.test", "hooks.merchant.test")


def test_the_api_refuses_a_private_target_in_production(api, production):
    problem = assert_problem(post(api, "/webhook-endpoints", {"url": "https://127.0.0.1/", "event_types": ["*"]}), 400)

    assert problem["code"] == "invalid_webhook_url"
    assert problem["errors"][0]["field"] == "url"


def test_a_host_that_turns_private_after_registration_gets_nothing(production, dns, merchant, receiver):
    dns["hooks.merchant.test"] = [PUBLIC]
    endpoint = WebhookEndpointFactory(merchant=merchant, url="https://hooks.merchant.test/hook")
    dns["hooks.merchant.test"] = ["127.0.0.1"]  # DNS rebinding: now it points inside
    record(merchant)
    relay_run()

    deliveries_dispatch()

    attempt = WebhookDelivery.objects.get(endpoint=endpoint).attempts.get()
    assert attempt.delivered is False and attempt.status_code is None
    assert "not public" in attempt.error
    assert receiver.requests == []


def test_the_request_goes_to_the_checked_address_naming_the_host(dns, merchant, receiver):
    dns["receiver.merchant.test"] = ["127.0.0.1"]
    port = receiver.server.server_port
    endpoint = WebhookEndpointFactory(merchant=merchant, url=f"http://receiver.merchant.test:{port}/hook?shop=7")
    record(merchant)
    relay_run()

    deliveries_dispatch()

    [request] = receiver.received("/hook?shop=7")
    assert request.headers["host"] == f"receiver.merchant.test:{port}"
    request.verify(endpoint.clear_secret)


def test_the_next_address_of_a_name_is_tried_when_one_refuses(dns, merchant, receiver):
    dns["receiver.merchant.test"] = ["::1", "127.0.0.1"]  # nothing listens on ::1 at this port
    endpoint = WebhookEndpointFactory(
        merchant=merchant, url=f"http://receiver.merchant.test:{receiver.server.server_port}/hook"
    )
    record(merchant)
    relay_run()

    deliveries_dispatch()

    [request] = receiver.received("/hook")
    request.verify(endpoint.clear_secret)
