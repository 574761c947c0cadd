"""Start-up checks of the bot tokens: a missing or malformed token is one line naming the variable."""

from __future__ import annotations

import re

from pydantic import SecretStr

from companion.core.errors import ConfigurationError

#: A Discord bot token is three base64url parts: the bot's id, a timestamp and an HMAC.
DISCORD_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{17,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")
#: A Telegram bot token is the bot's numeric id, a colon and a 35-character secret.
TELEGRAM_TOKEN_PATTERN = re.compile(r"^[0-9]{4,20}:[A-Za-z0-9_-]{30,}$")


def require_token(value: SecretStr | None, *, variable: str, pattern: re.Pattern[str], where: str) -> str:
    """The token's text, or a ``ConfigurationError`` saying what is wrong and where to get one."""
    if value is None or not value.get_secret_value().strip():
        raise ConfigurationError(f"{variable} is not set: create a bot token at {where} (see README, 'Bots')")
    token = value.get_secret_value().strip()
    if not pattern.fullmatch(token):
        raise ConfigurationError(f"{variable} does not look like a bot token from {where}; copy it again")
    return token


def discord_token(value: SecretStr | None) -> str:
    """The Discord bot token from ``COMPANION_DISCORD_TOKEN``."""
    return require_token(
        value,
        variable="COMPANION_DISCORD_TOKEN",
        pattern=DISCORD_TOKEN_PATTERN,
        where="the Discord developer portal",
    )


def telegram_token(value: SecretStr | None) -> str:
    """The Telegram bot token from ``COMPANION_TELEGRAM_TOKEN``."""
    return require_token(value, variable="COMPANION_TELEGRAM_TOKEN", pattern=TELEGRAM_TOKEN_PATTERN, where="@BotFather")
