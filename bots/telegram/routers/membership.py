"""The chat validator's events: the bot added to or removed from a group."""

from __future__ import annotations

import random
from collections.abc import Collection

from aiogram import Bot, Router
from aiogram.filters import JOIN_TRANSITION, LEAVE_TRANSITION, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated

from bots.common.chat_buffer import ChatBuffer
from bots.common.chat_manager import ChatManager
from bots.common.relationships import is_admin
from bots.telegram.chats import PLATFORM, validate_chat


async def added(
    event: ChatMemberUpdated,
    bot: Bot,
    chats: ChatManager,
    buffer: ChatBuffer,
    admin_ids: Collection[str],
    rng: random.Random,
) -> None:
    """Stay if an admin added the bot or is a member; else say goodbye and leave."""
    await validate_chat(
        bot,
        chat_id=event.chat.id,
        chat_type=event.chat.type,
        title=event.chat.title or "",
        added_by_admin=is_admin(PLATFORM, event.from_user.id, admin_ids),
        admin_ids=admin_ids,
        chats=chats,
        buffer=buffer,
        rng=rng,
        language_codes=[event.from_user.language_code],
    )


async def removed(event: ChatMemberUpdated, chats: ChatManager, buffer: ChatBuffer) -> None:
    """Someone removed the bot: mark the chat left and drop its buffer."""
    await chats.set_status(str(event.chat.id), "left", "removed from the chat", title=event.chat.title or "")
    buffer.drop_chat(str(event.chat.id))


def build_router() -> Router:
    """The bot's own membership changes."""
    router = Router(name="membership")
    router.my_chat_member.register(added, ChatMemberUpdatedFilter(JOIN_TRANSITION))
    router.my_chat_member.register(removed, ChatMemberUpdatedFilter(LEAVE_TRANSITION))
    return router
