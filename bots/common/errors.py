"""Errors of the chat front-ends."""

from companion.core.errors import CompanionError


class PlatformUnavailableError(CompanionError):
    """Discord or Telegram cannot be reached (network, DNS, proxy)."""

    exit_code = 4
