"""What ``companion bot`` and ``companion chats`` run (argument parsing stays in companion/cli/main.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from companion.core.settings import Settings


def run_bot(platform: str, settings: Settings, *, sync_commands: bool = True) -> int:
    """Run the Discord or Telegram bot until interrupted, sharing the data dir's stores with other processes."""
    from companion.services import shared_stores

    if platform == "discord":
        from bots.common.tokens import discord_token

        discord_token(settings.discord_token)  # fail before importing the client or opening any service
        from bots.discord.bot import run_discord_bot

        with shared_stores(settings):
            asyncio.run(run_discord_bot(settings, sync_commands=sync_commands))
    else:
        from bots.common.tokens import telegram_token

        telegram_token(settings.telegram_token)
        from bots.telegram.bot import run_telegram_bot

        with shared_stores(settings):
            asyncio.run(run_telegram_bot(settings))
    return 0


async def chats_report(settings: Settings, *, day: str | None = None) -> dict[str, Any]:
    """Every chat of both bots with activity and health, and totals (only Redis is opened).

    With ``day`` (a UTC ``YYYY-MM-DD``): the daily report instead, the chats active that day with their counts.
    """
    from redis.asyncio import Redis

    from bots.common.chat_manager import PLATFORMS, ChatManager, summarise, summarise_day
    from bots.common.clock import SystemClock
    from companion.services import check_redis, ensure_data_dir, resolve_redis_url

    ensure_data_dir(settings.data_dir)
    url, _ = resolve_redis_url(settings)
    check_redis(url)
    redis = Redis.from_url(url, socket_connect_timeout=3)
    try:
        managers = [ChatManager(redis, platform=platform, clock=SystemClock()) for platform in PLATFORMS]
        if day is not None:
            days = [chat for manager in managers for chat in await manager.daily_report(day)]
            return {"day": day, "chats": [chat.to_dict() for chat in days], "totals": summarise_day(days)}
        chats = [chat for manager in managers for chat in await manager.snapshot()]
    finally:
        await redis.aclose()
    return {"chats": [chat.to_dict() for chat in chats], "totals": summarise(chats)}
