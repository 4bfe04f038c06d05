"""The one application error hierarchy. The API's exception handler turns each into
application/problem+json with its status and `code`; services raise them, views never build
error responses by hand."""


class ApplicationError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"
    # A retryable error describes a passing moment (another operation still running), not the
    # request: it is not stored under the Idempotency-Key, so a retry with the same key runs.
    retryable = False

    def __init__(self, detail: str | None = None, *, errors: list[dict] | None = None, code: str | None = None):
        self.detail = detail or self.title
        self.errors = errors or []
        if code:
            self.code = code
        super().__init__(self.detail)


class ValidationFailed(ApplicationError):
    status = 400
    code = "validation_error"
    title = "The request is not valid"


class NotFound(ApplicationError):
    status = 404
    code = "resource_missing"
    title = "No such object"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"
    title = "Conflict"


class InvalidStateTransition(Conflict):
    code = "invalid_state_transition"
    title = "The object is not in a state that allows this"


class OperationInProgress(Conflict):
    code = "operation_in_progress"
    title = "Another operation on this object is still in progress"
    retryable = True


class InsufficientFunds(Conflict):
    code = "insufficient_funds"
    title = "Insufficient funds"


class Unprocessable(ApplicationError):
    status = 422
    code = "unprocessable"
    title = "Unprocessable request"


class ProviderUnavailable(ApplicationError):
    status = 503
    code = "provider_unavailable"
    title = "No payment provider is available"
