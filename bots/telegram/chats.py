"""Telegram-side helpers the routers share: mention detection, chat validation, outreach delivery."""

from __future__ import annotations

import logging
import random
from collections.abc import Collection

from aiogram import Bot
from aiogram.enums import ChatMemberStatus, ChatType, MessageEntityType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import Message, User

from bots.common.chat_buffer import ChatBuffer
from bots.common.chat_manager import ChatManager
from bots.common.chat_validator import AccessDecision, chat_language, decide_chat_access, goodbye_message
from bots.common.companion import platform_user_id
from bots.common.relationships import RelationshipStore
from bots.common.replies import TELEGRAM_MESSAGE_LIMIT, split_reply

logger = logging.getLogger(__name__)

PLATFORM = "telegram"
MEMBER_STATUSES = {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}


def is_private(message: Message) -> bool:
    """Whether the message is from a private chat with the bot."""
    return message.chat.type == ChatType.PRIVATE


def addresses_bot(message: Message, me: User) -> bool:
    """A mention of the bot (@username or a text mention), or a reply to one of its messages."""
    if message.reply_to_message is not None and message.reply_to_message.from_user is not None:
        if message.reply_to_message.from_user.id == me.id:
            return True
    text = message.text or message.caption or ""
    for entity in message.entities or []:
        if entity.type == MessageEntityType.MENTION and me.username:
            if entity.extract_from(text).lower() == f"@{me.username.lower()}":
                return True
        if entity.type == MessageEntityType.TEXT_MENTION and entity.user is not None and entity.user.id == me.id:
            return True
    return False


def without_mention(text: str, me: User) -> str:
    """The text with the bot's @username removed (what the companion is actually asked)."""
    if me.username:
        text = " ".join(word for word in text.split() if word.lower() != f"@{me.username.lower()}")
    return text.strip()


def telegram_admin_ids(admin_ids: Collection[str]) -> list[int]:
    """The admin ids that apply to Telegram (bare or ``telegram:``-prefixed)."""
    ids = []
    for item in admin_ids:
        platform, _, number = item.rpartition(":")
        if platform in ("", PLATFORM):
            ids.append(int(number))
    return sorted(ids)


async def admin_in_chat(bot: Bot, chat_id: int, admin_ids: Collection[str]) -> bool:
    """Whether one of the admins is a member of the chat (asks Telegram, one admin at a time)."""
    for admin_id in telegram_admin_ids(admin_ids):
        try:
            member = await bot.get_chat_member(chat_id, admin_id)
        except TelegramBadRequest:  # "user not found": never was a member
            continue
        if member.status in MEMBER_STATUSES or getattr(member, "is_member", False):
            return True
    return False


async def validate_chat(
    bot: Bot,
    *,
    chat_id: int,
    chat_type: str,
    title: str,
    added_by_admin: bool,
    admin_ids: Collection[str],
    chats: ChatManager,
    buffer: ChatBuffer,
    rng: random.Random,
    language_codes: Collection[str | None] = (),
) -> AccessDecision:
    """Decide whether the bot stays in a chat; if not, say goodbye in the chat's language and leave."""
    admin_present = (
        chat_type != ChatType.PRIVATE and not added_by_admin and await admin_in_chat(bot, chat_id, admin_ids)
    )
    decision = decide_chat_access(chat_type, added_by_admin=added_by_admin, admin_present=admin_present)
    key = str(chat_id)
    if decision.allowed:
        await chats.set_status(
            key, "allowed", decision.reason, title=title, chat_type=chat_type, added_by_admin=added_by_admin
        )
        return decision
    language = chat_language(language_codes, [message.text for message in buffer.context(key)])
    try:
        await bot.send_message(chat_id, goodbye_message(language, rng))
    except TelegramAPIError as exc:  # cannot write there (muted, read-only): leave anyway
        logger.warning("could not say goodbye in chat %s: %s", chat_id, exc)
    await bot.leave_chat(chat_id)
    await chats.set_status(key, "left", decision.reason, title=title, chat_type=chat_type)
    buffer.drop_chat(key)
    logger.info("left chat %s: %s", chat_id, decision.reason)
    return decision


async def recheck_chats(
    bot: Bot, *, admin_ids: Collection[str], chats: ChatManager, buffer: ChatBuffer, rng: random.Random
) -> dict[str, AccessDecision]:
    """Validate every group the bot is still in (an admin may have left since it joined)."""
    decisions = {}
    for status in await chats.snapshot():
        if status.status != "allowed" or status.type == ChatType.PRIVATE:
            continue
        added_by_admin = await chats.added_by_admin(status.chat_id)
        decisions[status.chat_id] = await validate_chat(
            bot,
            chat_id=int(status.chat_id),
            chat_type=status.type,
            title=status.title,
            added_by_admin=added_by_admin,
            admin_ids=admin_ids,
            chats=chats,
            buffer=buffer,
            rng=rng,
        )
    return decisions


async def deliver_outreach(bot: Bot, relations: RelationshipStore, telegram_user_id: int, text: str) -> str:
    """Send a proactive message: privately, else in the last group the user addressed the companion in.

    Returns ``"dm"``, ``"channel"`` or ``"undeliverable"`` (the user never opened a private chat or blocked the
    bot, and has no group on record). The proactive outbox calls this once it exists.
    """
    chunks = split_reply(text, TELEGRAM_MESSAGE_LIMIT)
    try:
        for chunk in chunks:
            await bot.send_message(telegram_user_id, chunk)
        return "dm"
    except (TelegramForbiddenError, TelegramBadRequest) as exc:
        logger.info("private outreach to %s failed (%s); trying the last group", telegram_user_id, exc.message)
    channel = await relations.last_channel(platform_user_id(PLATFORM, telegram_user_id))
    if channel is None:
        return "undeliverable"
    mention = f'<a href="tg://user?id={telegram_user_id}">↪</a> '
    try:
        for index, chunk in enumerate(split_reply(text, TELEGRAM_MESSAGE_LIMIT - len(mention))):
            await bot.send_message(channel, (mention if index == 0 else "") + _escape_html(chunk), parse_mode="HTML")
    except (TelegramForbiddenError, TelegramBadRequest) as exc:
        logger.info("group outreach to %s failed too (%s)", telegram_user_id, exc.message)
        return "undeliverable"
    return "channel"


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
