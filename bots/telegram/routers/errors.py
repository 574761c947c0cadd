"""The errors router: one line to the user for errors they can act on, a log entry for the rest."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent

from bots.common.chat_manager import ChatManager
from bots.telegram.chats import addresses_bot, is_private
from companion.core.errors import CompanionError, InvalidInputError, RateLimitedError

logger = logging.getLogger(__name__)

FAILED_TEXT = "Sorry, I couldn't answer that just now. Please try again in a little while."


async def on_error(event: ErrorEvent, bot: Bot, chats: ChatManager) -> None:
    """Tell the user what went wrong, in one line, and count the failure against the chat's health.

    In a group, only a message addressed to the companion gets the line; a failure while buffering someone
    else's message is only logged and counted.
    """
    message = event.update.message
    exc = event.exception
    if isinstance(exc, RateLimitedError | InvalidInputError):
        text = str(exc)
    elif isinstance(exc, CompanionError):
        logger.warning("turn failed: %s", exc)
        text = FAILED_TEXT
    else:
        logger.error("unexpected error in update %s", event.update.update_id, exc_info=exc)
        text = FAILED_TEXT
    if message is None:
        return
    await chats.record(str(message.chat.id), "errors")
    if not is_private(message) and not addresses_bot(message, await bot.me()):
        return
    try:
        await message.answer(text)
    except TelegramAPIError as send_error:
        logger.warning("could not report an error in chat %s: %s", message.chat.id, send_error)


def build_router() -> Router:
    """Errors of every other router."""
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
