from core.errors import ApplicationError, NotFound


class UnknownProvider(NotFound):
    code = "unknown_provider"
    title = "No such provider"


class NotificationTooLarge(ApplicationError):
    status = 413
    code = "request_too_large"
    title = "Notification body too large"


class NotificationRefused(ApplicationError):
    """Not signed by the provider, signed too long ago, or unreadable. `code` says which."""

    status = 400
    code = "invalid_notification"
    title = "The notification was refused"
