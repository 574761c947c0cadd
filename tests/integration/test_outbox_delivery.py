"""The bots' side of the proactive outbox: each platform delivers its own users' outreach, exactly once."""

from __future__ import annotations

from redis.asyncio import Redis

from bots.common.outbox import OutboxConsumer
from memory.outreach import OUTBOX_STREAM


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
