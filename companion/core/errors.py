"""Domain errors. Every error a user can cause or meet carries a one-line message that names the problem."""


class CompanionError(Exception):
    """Base class of every error the project raises on purpose."""

    #: Process exit code the CLI uses for this error.
    exit_code: int = 1


class InvalidInputError(CompanionError):
    """The caller passed a value that is not acceptable (empty message, bad user id, ...)."""

    exit_code = 2


class MissingContextError(InvalidInputError, ValueError):
    """A graph run without the context it needs (such as its ``user_id``).

    Also a ``ValueError``: the LangGraph server (Studio) shows the message of built-in errors only.
    """


class ConfigurationError(CompanionError):
    """A setting is missing, malformed or points somewhere unusable."""

    exit_code = 2


class RetryLaterError(CompanionError):
    """The caller may not go on now, but may after ``retry_after`` seconds (the HTTP ``Retry-After``)."""

    exit_code = 3

    def __init__(self, message: str, *, retry_after: float, limit: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit  # the per-minute limit that was reached, when it is one


class RateLimitedError(RetryLaterError):
    """Too many messages: the caller should wait ``retry_after`` seconds and try again."""


class StoreUnavailableError(CompanionError):
    """Redis or Chroma cannot be reached or used."""

    exit_code = 4


class ChatModelError(CompanionError):
    """The configured chat model could not be reached or refused the request."""

    exit_code = 5


class NotFoundError(CompanionError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    exit_code = 2


class AuthenticationError(CompanionError):
    """No API key, or one that is unknown or revoked."""

    exit_code = 2


class PermissionDeniedError(CompanionError):
    """A valid API key that may not do this (another user's data, an admin route)."""

    exit_code = 2


class InjectionBlockedError(RetryLaterError):
    """The user is blocked or cooling down after repeated prompt-injection attempts."""


class UserBusyError(CompanionError):
    """Another process holds the user's memories (e.g. the association worker); try again shortly."""

    exit_code = 3


class ConflictError(CompanionError):
    """The request repeats one still in progress (the same ``Idempotency-Key``); retry once it has finished."""

    exit_code = 3
