from core.errors import Conflict, NotFound, ValidationFailed


class WebhookEndpointNotFound(NotFound):
    title = "No such webhook endpoint"


class EventNotFound(NotFound):
    title = "No such event"


class InvalidWebhookUrl(ValidationFailed):
    """Refused at registration, and checked again before every request (DNS can change)."""

    code = "invalid_webhook_url"
    title = "The webhook URL is not allowed"

    def __init__(self, detail: str):
        super().__init__(detail, errors=[{"field": "url", "code": self.code, "detail": detail}])


class WebhookEndpointNotEnabled(Conflict):
    code = "webhook_endpoint_disabled"
    title = "The webhook endpoint is disabled"


class WebhookEndpointLimitReached(Conflict):
    code = "webhook_endpoint_limit_reached"
    title = "Too many webhook endpoints"
