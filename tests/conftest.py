import pytest
from rest_framework.test import APIClient

pytest_plugins = ["tests.fixtures.sandbox", "tests.fixtures.gunicorn_server"]


@pytest.fixture
def merchant(db):
    from tests.factories import MerchantFactory

    return MerchantFactory()


@pytest.fixture
def api_key(merchant):
    from merchants.services import api_key_issue

    return api_key_issue(merchant=merchant)


@pytest.fixture
def api(api_key):
    """An API client authenticated as `merchant`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def other_merchant(db):
    """A second merchant, to check that merchants never see each other's objects or keys."""
    from tests.factories import MerchantFactory

    return MerchantFactory()


@pytest.fixture
def other_api(other_merchant):
    from merchants.services import api_key_issue

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_issue(merchant=other_merchant)}")
    return client
