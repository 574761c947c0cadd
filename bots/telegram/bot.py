"""The Telegram bot (aiogram 3): one router per feature, dependencies in the dispatcher's workflow data.

``build_dispatcher`` wires the routers over a ``Companion`` and Redis (used by the tests with a local Bot API
server); ``run_telegram_bot`` opens the real services and polls Telegram (``companion bot telegram``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Collection

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError
from redis.asyncio import Redis

from bots.common.chat_buffer import ChatBatchQueue, ChatBuffer
from bots.common.chat_manager import ChatManager
from bots.common.clock import Clock, SystemClock
from bots.common.companion import Companion, quiet_durability_warning
from bots.common.errors import PlatformUnavailableError
from bots.common.outbox import OutboxConsumer
from bots.common.relationships import RelationshipStore
from bots.common.response_flow import ResponseFlow
from bots.common.tokens import telegram_token
from bots.telegram.chats import PLATFORM, deliver_outreach, recheck_chats
from bots.telegram.routers import commands, conversation, errors, forget, membership
from companion.core.errors import ConfigurationError
from companion.core.settings import Settings

logger = logging.getLogger(__name__)

#: How often every group is validated again (an admin may have left).
RECHECK_INTERVAL_SECONDS = 6 * 3600


def build_dispatcher(
    *,
    companion: Companion,
    redis: Redis,
    admin_ids: Collection[str],
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> Dispatcher:
    """A dispatcher with every router; its workflow data carries the dependencies handlers ask for by name."""
    clock = clock or SystemClock()
    rng = rng or random.Random()
    dispatcher = Dispatcher(
        companion=companion,
        flow=ResponseFlow(clock=clock, rng=rng),
        buffer=ChatBuffer(),
        batch_queue=ChatBatchQueue(redis, platform=PLATFORM),
        chats=ChatManager(redis, platform=PLATFORM, clock=clock),
        relations=RelationshipStore(redis, clock=clock),
        admin_ids=frozenset(admin_ids),
        clock=clock,
        rng=rng,
    )
    # Commands before free text; the errors router sees failures of every other router.
    # Routers are built per dispatcher (an aiogram router belongs to one parent).
    dispatcher.include_routers(
        errors.build_router(),
        membership.build_router(),
        forget.build_router(),
        commands.build_router(),
        conversation.build_router(),
    )
    return dispatcher


def create_bot(token: str, *, api_base: str | None = None) -> Bot:
    """The aiogram client, optionally against another Bot API server (a local one, or the tests')."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base)) if api_base else AiohttpSession()
    return Bot(token, session=session)


async def recheck_periodically(bot: Bot, dispatcher: Dispatcher, *, interval: float) -> None:
    """Validate every group again every ``interval`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            await recheck_chats(
                bot,
                admin_ids=dispatcher["admin_ids"],
                chats=dispatcher["chats"],
                buffer=dispatcher["buffer"],
                rng=dispatcher["rng"],
            )
        except TelegramAPIError as exc:
            logger.warning("chat recheck failed: %s", exc)


async def run_telegram_bot(settings: Settings) -> None:
    """Start the bot: check the token, open the services, poll Telegram until interrupted."""
    from companion.runtime.background import background_work
    from companion.services import open_services
    from graphs.conversation import build_graph_from_services

    token = telegram_token(settings.telegram_token)
    quiet_durability_warning()
    async with open_services(settings) as services, background_work(services):
        companion = Companion.over_services(services, build_graph_from_services(services), persona=settings.persona)
        bot = create_bot(token, api_base=settings.telegram_api_base)
        try:
            me = await bot.get_me()
        except TelegramUnauthorizedError:
            await bot.session.close()
            raise ConfigurationError(
                "Telegram rejected COMPANION_TELEGRAM_TOKEN; get a valid one from @BotFather"
            ) from None
        except TelegramNetworkError as exc:
            await bot.session.close()
            raise PlatformUnavailableError(f"cannot reach the Telegram Bot API: {exc.message}") from None
        logger.info("Telegram bot @%s is running", me.username)
        dispatcher = build_dispatcher(companion=companion, redis=services.redis, admin_ids=settings.admin_ids)
        recheck = asyncio.create_task(recheck_periodically(bot, dispatcher, interval=RECHECK_INTERVAL_SECONDS))
        relations: RelationshipStore = dispatcher["relations"]

        async def deliver(telegram_user_id: str, text: str) -> str:
            return await deliver_outreach(bot, relations, int(telegram_user_id), text)

        outbox = asyncio.create_task(OutboxConsumer(services.redis, platform=PLATFORM, deliver=deliver).run())
        try:
            await dispatcher.start_polling(
                bot, allowed_updates=dispatcher.resolve_used_update_types(), handle_signals=False
            )
        finally:
            for task in (recheck, outbox):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await bot.session.close()
