"""The bots' side of the proactive outbox: each platform delivers its own users' outreach, exactly once."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from bots.common.outbox import OutboxConsumer
from memory.outreach import OUTBOX_STREAM, SENT_RETENTION_SECONDS, OutreachStore

HOUR_MS = 3_600_000


async def test_each_platform_delivers_its_users_outreach_once_and_retries_a_failed_delivery(redis: Redis) -> None:
    for user_id, text in [("telegram:11", "Hi Ann!"), ("discord:22", "Hi Bo!"), ("telegram:33", "Hi Cy!")]:
        await redis.xadd(OUTBOX_STREAM, {"outreach_id": f"o-{user_id}", "user_id": user_id, "text": text})
    sent: list[tuple[str, str]] = []
    failing = {"33"}

    async def deliver(native_id: str, text: str) -> str:
        if native_id in failing:
            raise ConnectionError("Telegram is down")
        sent.append((native_id, text))
        return "dm"

    telegram = OutboxConsumer(redis, platform="telegram", deliver=deliver)
    try:
        await telegram.poll()
    except ConnectionError:
        pass
    assert sent == [("11", "Hi Ann!")]  # the Discord user's outreach is not Telegram's to send
    failing.clear()
    assert await telegram.poll() == [("telegram:33", "dm")]  # left pending after the failure, delivered now
    assert await telegram.poll() == []  # nothing twice
    assert sent == [("11", "Hi Ann!"), ("33", "Hi Cy!")]

    discord_sent: list[str] = []

    async def deliver_discord(native_id: str, text: str) -> str:
        discord_sent.append(native_id)
        return "channel"

    assert await OutboxConsumer(redis, platform="discord", deliver=deliver_discord).poll() == [
        ("discord:22", "channel")
    ]
    assert discord_sent == ["22"]


async def test_sending_an_outreach_trims_the_outbox_of_entries_past_the_retention(redis: Redis) -> None:
    now_ms = int(time.time() * 1000)
    retention_ms = int(SENT_RETENTION_SECONDS * 1000)
    for outreach_id, age_ms in [("stale", retention_ms + HOUR_MS), ("recent", retention_ms - HOUR_MS)]:
        fields = {"outreach_id": outreach_id, "user_id": "telegram:11", "text": f"{outreach_id} hello"}
        await redis.xadd(OUTBOX_STREAM, fields, id=f"{now_ms - age_ms}-0")  # type: ignore[arg-type]
    # a bot read the stale entry and crashed before acknowledging it
    await redis.xgroup_create(OUTBOX_STREAM, "outbox-telegram", id="0")
    await redis.xreadgroup("outbox-telegram", "bot", {OUTBOX_STREAM: ">"}, count=1)

    store = OutreachStore(redis)
    await store.send("telegram:11", {"outreach_id": "new", "user_id": "telegram:11", "text": "hi"}, now=time.time())
    assert [entry["outreach_id"] for entry in await store.outbox()] == ["recent", "new"]

    # the bot gets its trimmed entry back empty, acknowledges it, and delivers the rest
    sent: list[str] = []

    async def deliver(native_id: str, text: str) -> str:
        sent.append(text)
        return "dm"

    assert len(await OutboxConsumer(redis, platform="telegram", deliver=deliver).poll()) == 2
    assert sent == ["recent hello", "hi"]
    assert (await redis.xpending(OUTBOX_STREAM, "outbox-telegram"))["pending"] == 0
