"""Delivering the proactive outbox: the bots' side of ``companion:stream:outbox`` (see ``memory/outreach.py``).

Each platform reads the outbox through its own consumer group (``outbox-<platform>``), so the Discord and Telegram
bots each see every outreach and deliver the ones addressed to their users (user ids ``<platform>:<id>``); an entry
for another platform is acknowledged and left to that platform's group. Delivery is at-least-once: an entry is
acknowledged after ``deliver`` returns, and a bot that died before that gets its pending entries again when it
starts (one fixed consumer name per platform).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from memory.outreach import OUTBOX_STREAM
from memory.redis_io import as_text

logger = logging.getLogger(__name__)

#: ``deliver(platform_native_user_id, text) -> "dm" | "channel" | "undeliverable"``
Deliver = Callable[[str, str], Awaitable[str]]


class OutboxConsumer:
    """Reads the outbox for one platform and hands each outreach to the platform's ``deliver``."""

    def __init__(self, redis: Redis, *, platform: str, deliver: Deliver, consumer: str = "bot") -> None:
        self.redis = redis
        self.platform = platform
        self.deliver = deliver
        self.group = f"outbox-{platform}"
        self.consumer = consumer
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
            await self.redis.xgroup_create(OUTBOX_STREAM, self.group, id="0", mkstream=True)
        self._group_ready = True

    async def poll(self, *, count: int = 50, block_ms: int | None = None) -> list[tuple[str, str]]:
        """Deliver what is pending for this consumer, then what is new; returns ``(user_id, result)`` per outreach."""
        await self._ensure_group()
        delivered: list[tuple[str, str]] = []
        for start in ("0", ">"):  # "0": entries delivered to us before but never acknowledged (a crash)
            response: Any = await self.redis.xreadgroup(
                self.group, self.consumer, {OUTBOX_STREAM: start}, count=count, block=block_ms if start == ">" else None
            )
            streams = response.items() if isinstance(response, dict) else (response or [])
            for _, entries in streams:
                for entry_id, fields in entries:
                    outcome = await self._handle(as_text(entry_id), {as_text(k): as_text(v) for k, v in fields.items()})
                    if outcome is not None:
                        delivered.append(outcome)
        return delivered

    async def _handle(self, entry_id: str, fields: dict[str, str]) -> tuple[str, str] | None:
        user_id, text = fields.get("user_id", ""), fields.get("text", "")
        platform, _, native = user_id.partition(":")
        outcome = None
        if platform == self.platform and native and text:
            result = await self.deliver(native, text)  # raises: left pending, retried on the next poll
            logger.info("outreach %s to %s: %s", fields.get("outreach_id", entry_id), user_id, result)
            outcome = (user_id, result)
        await self.redis.xack(OUTBOX_STREAM, self.group, entry_id)
        return outcome

    async def run(self, *, stop: asyncio.Event | None = None, block_ms: int = 5000) -> None:
        """Poll until cancelled or ``stop`` is set; a failing delivery or Redis outage is logged and retried."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.poll(block_ms=block_ms)
            except RedisError as exc:
                logger.warning("outbox: Redis is not usable (%s); retrying", exc)
                await asyncio.sleep(block_ms / 1000)
            except Exception as exc:  # a platform error while delivering: keep the bot running, retry later
                logger.warning("outbox: delivery failed (%s); retrying", exc)
                await asyncio.sleep(block_ms / 1000)
