import factory

from outbox import services
from outbox.models import WebhookEndpoint
from tests.factories import MerchantFactory


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """An endpoint registered through the service; its clear secret is kept on the object as
    `.clear_secret`, as the merchant would have noted it from the API's answer."""

    class Meta:
        model = WebhookEndpoint

    merchant = factory.SubFactory(MerchantFactory)
    url = "http://127.0.0.1:9/hook"
    event_types = factory.LazyFunction(lambda: ["*"])

    @classmethod
    def _create(cls, model_class, *, merchant, url, event_types):
        endpoint, secret = services.endpoint_create(merchant_id=merchant.id, url=url, event_types=event_types)
        endpoint.clear_secret = secret
        return endpoint
