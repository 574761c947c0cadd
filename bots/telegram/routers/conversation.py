"""Text messages: buffer every one, answer those the response flow picks, after its delay."""

from __future__ import annotations

import logging
import random
from collections.abc import Collection

from aiogram import Bot, F, Router
from aiogram.types import Message

from bots.common.chat_buffer import BufferedMessage, ChatBatchQueue, ChatBuffer
from bots.common.chat_manager import ChatManager
from bots.common.clock import Clock
from bots.common.companion import GROUP_LINES, Audience, Companion, conversation_id_for, platform_user_id
from bots.common.relationships import RelationshipStore, is_admin
from bots.common.replies import TELEGRAM_MESSAGE_LIMIT, split_reply
from bots.common.response_flow import ResponseFlow
from bots.telegram.chats import PLATFORM, addresses_bot, is_private, validate_chat, without_mention

logger = logging.getLogger(__name__)


def build_router() -> Router:
    """Free text in private chats and groups."""
    router = Router(name="conversation")
    router.message.register(on_text, F.text, ~F.text.startswith("/"))
    return router


async def on_text(
    message: Message,
    bot: Bot,
    companion: Companion,
    flow: ResponseFlow,
    buffer: ChatBuffer,
    batch_queue: ChatBatchQueue,
    chats: ChatManager,
    relations: RelationshipStore,
    admin_ids: Collection[str],
    clock: Clock,
    rng: random.Random,
) -> None:
    """Buffer the message; if it is addressed to the companion and the flow allows, answer it."""
    sender = message.from_user
    if sender is None or sender.is_bot or message.text is None:
        return
    chat_key, private = str(message.chat.id), is_private(message)
    if not private and await chats.status(chat_key) is None:  # a group the bot was in before it could check
        access = await validate_chat(
            bot,
            chat_id=message.chat.id,
            chat_type=message.chat.type,
            title=message.chat.title or "",
            added_by_admin=False,
            admin_ids=admin_ids,
            chats=chats,
            buffer=buffer,
            rng=rng,
            language_codes=[sender.language_code],
        )
        if not access.allowed:
            return
    user_id = platform_user_id(PLATFORM, sender.id)
    author = sender.full_name or sender.username or str(sender.id)
    batches = buffer.add(BufferedMessage(chat_key, user_id, author, message.text, clock.now()))
    if batches or batch_queue.pending:
        written = await batch_queue.push(*batches)
        await chats.record(chat_key, "batches", len(written))
    title = message.chat.title or ("private" if private else "")
    await chats.record_message(chat_key, title=title, chat_type=message.chat.type, buffered=buffer.size(chat_key))

    me = await bot.me()
    addressed = private or addresses_bot(message, me)
    if not addressed:
        return
    admin = is_admin(PLATFORM, sender.id, admin_ids)
    relationship = await relations.record_message(user_id, admin=admin)
    text = without_mention(message.text, me)
    # in a group, pacing would make someone in danger wait or go unanswered: perceive a crisis first
    crisis = not private and bool(text) and await companion.in_crisis(text)
    decision = flow.decide(
        chat_id=chat_key,
        user_id=user_id,
        relationship=relationship,
        private=private,
        addressed=addressed,
        crisis=crisis,
    )
    if not decision.respond:
        logger.debug("no reply in %s to %s: %s", chat_key, user_id, decision.reason)
        await chats.record(chat_key, "skipped")
        return
    if not private:
        await relations.remember_channel(user_id, message.chat.id)
    if not text:
        return
    # what the group said just before this message (the buffer's last entry is this message itself)
    earlier = [] if private else [(line.author, line.text) for line in buffer.context(chat_key)[:-1]]
    await clock.sleep(decision.delay)
    answer = await companion.answer(
        user_id=user_id,
        conversation_id=conversation_id_for(PLATFORM, None if private else message.chat.id),
        message=text,
        audience=Audience.PRIVATE if private else Audience.GROUP,
        source_id=f"telegram:{message.chat.id}:{message.message_id}",
        group_lines=earlier[-GROUP_LINES:],
        group_summary="" if private else buffer.summary(chat_key),
    )
    for index, chunk in enumerate(split_reply(answer.reply, TELEGRAM_MESSAGE_LIMIT)):
        if index == 0 and not private:
            await message.reply(chunk)
        else:
            await message.answer(chunk)
    await chats.record(chat_key, "replies")
