"""/start, /memories and /personality."""

from __future__ import annotations

import time

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from bots.common.companion import Companion, platform_user_id
from bots.common.replies import TELEGRAM_MESSAGE_LIMIT, split_reply
from bots.telegram.chats import PLATFORM, is_private

START_TEXT = (
    "Hi, I'm {persona}, a companion that remembers. Just write to me here; in a group, mention me or reply to "
    "me.\n\n/memories [words] - what I remember about you (private chat only)\n/personality - how I am\n"
    "/forget - delete everything I remember about you"
)
MEMORIES_PRIVATE_ONLY = "I only show memories in a private chat with me."
NO_MEMORIES = "I don't remember anything about you yet."


async def start(message: Message, companion: Companion) -> None:
    """Greet and list the commands."""
    await message.answer(START_TEXT.format(persona=companion.persona))


async def memories(message: Message, command: CommandObject, companion: Companion) -> None:
    """The user's memories: relevant to the words after the command, else the newest."""
    if message.from_user is None:
        return
    if not is_private(message):
        await message.reply(MEMORIES_PRIVATE_ONLY)
        return
    found = await companion.memories(platform_user_id(PLATFORM, message.from_user.id), query=command.args, limit=5)
    if not found:
        await message.answer(NO_MEMORIES)
        return
    lines = [f"{time.strftime('%Y-%m-%d', time.gmtime(memory.created_at))}  {memory.text}" for memory in found]
    for chunk in split_reply("\n".join(lines), TELEGRAM_MESSAGE_LIMIT):
        await message.answer(chunk)


async def personality(message: Message, companion: Companion) -> None:
    """How the companion feels with this user, what it needs, which quirks it picked up."""
    if message.from_user is None:
        return
    await message.answer(await companion.personality(platform_user_id(PLATFORM, message.from_user.id)))


def build_router() -> Router:
    """/start, /memories, /personality."""
    router = Router(name="commands")
    router.message.register(start, CommandStart())
    router.message.register(memories, Command("memories"))
    router.message.register(personality, Command("personality"))
    return router
