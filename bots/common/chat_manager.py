"""Global chat manager (design seed 000): per-chat activity and health across every chat, kept in Redis.

Keys (``<p>`` is the platform, ``telegram`` or ``discord``):

- ``companion:bot:<p>:chats``                set of chat ids the bot has seen
- ``companion:bot:<p>:chat:{<id>}``          hash: title, type, status (``allowed``/``left``), status_reason,
                                             joined_at, last_message_at, buffered and running totals
- ``companion:bot:<p>:chat:{<id>}:h:<hour>`` hash of the hour's counts (messages, replies, skipped, errors,
                                             batches), kept 25 h, so the last 24 h are read without scanning
- ``companion:bot:<p>:chat:{<id>}:d:<day>``  the same counts for one UTC day (``YYYY-MM-DD``), kept
                                             ``DAY_TTL_SECONDS`` (35 days): the daily report (``daily_report``)

Activity level (messages in the last 24 h): very_high > 1000, high 100-1000, medium 10-99, low 1-9, inactive 0.
Health over the last 24 h: ``critical`` when at least half of the attempted replies failed (and at least 3
failed), ``warning`` when at least one in ten failed; ``optimizing`` (the seed's "performance tuning needed") when
the response flow skipped at least ``OPTIMIZING_MIN_SKIPPED`` messages addressed to the companion and no fewer
than it answered: the chat is busier than its cooldowns and delays suit; else ``healthy``. Chats the bot left
show ``left``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bots.common.clock import Clock
from companion.core.errors import StoreUnavailableError
from memory.keys import hash_tag
from memory.redis_io import as_text

COUNTERS = ("messages", "replies", "skipped", "errors", "batches")
HOUR_TTL_SECONDS = 25 * 3600
DAY_TTL_SECONDS = 35 * 86400
OPTIMIZING_MIN_SKIPPED = 10
PLATFORMS = ("telegram", "discord")


def chats_key(platform: str) -> str:
    """Redis set of a platform's chat ids."""
    return f"companion:bot:{platform}:chats"


def chat_key(platform: str, chat_id: str) -> str:
    """Redis hash of one chat."""
    return f"companion:bot:{platform}:chat:{hash_tag(chat_id)}"


def hour_key(platform: str, chat_id: str, hour: int) -> str:
    """Redis hash of one chat's counts in one hour (hours since the epoch)."""
    return f"{chat_key(platform, chat_id)}:h:{hour}"


def day_key(platform: str, chat_id: str, day: str) -> str:
    """Redis hash of one chat's counts in one UTC day (``YYYY-MM-DD``)."""
    return f"{chat_key(platform, chat_id)}:d:{day}"


def utc_day(at: float) -> str:
    """The UTC day (``YYYY-MM-DD``) of a time."""
    return datetime.fromtimestamp(at, UTC).date().isoformat()


def activity_level(messages_24h: int) -> str:
    """The activity level of a chat from its messages in the last 24 h."""
    if messages_24h > 1000:
        return "very_high"
    if messages_24h >= 100:
        return "high"
    if messages_24h >= 10:
        return "medium"
    if messages_24h >= 1:
        return "low"
    return "inactive"


def chat_health(*, status: str, replies_24h: int, errors_24h: int, skipped_24h: int = 0) -> str:
    """The health of a chat from its reply failures and the replies its pacing skipped in the last 24 h."""
    if status == "left":
        return "left"
    attempts = replies_24h + errors_24h
    if errors_24h >= 3 and errors_24h * 2 >= attempts:
        return "critical"
    if attempts and errors_24h * 10 >= attempts:
        return "warning"
    if skipped_24h >= OPTIMIZING_MIN_SKIPPED and skipped_24h >= replies_24h:
        return "optimizing"
    return "healthy"


@dataclass(frozen=True, slots=True)
class ChatStatus:
    """One chat as ``companion chats`` shows it."""

    platform: str
    chat_id: str
    title: str
    type: str
    status: str
    status_reason: str
    activity: str
    health: str
    messages_24h: int
    replies_24h: int
    skipped_24h: int
    errors_24h: int
    messages_total: int
    batches_total: int
    buffered: int
    last_message_at: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ChatDay:
    """One chat's counts on one UTC day (``companion chats --day``)."""

    platform: str
    chat_id: str
    title: str
    day: str
    activity: str
    messages: int
    replies: int
    skipped: int
    errors: int
    batches: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


class ChatManager:
    """Records what happens in each chat and reports activity and health."""

    def __init__(self, redis: Redis, *, platform: str, clock: Clock) -> None:
        self.redis = redis
        self.platform = platform
        self.clock = clock

    async def record_message(self, chat_id: str, *, title: str, chat_type: str, buffered: int) -> None:
        """Count one message seen in a chat."""
        now = self.clock.now()
        key = chat_key(self.platform, chat_id)
        await self._run(
            lambda pipe: (
                pipe.sadd(chats_key(self.platform), chat_id),
                pipe.hset(
                    key,
                    mapping={"title": title, "type": chat_type, "last_message_at": repr(now), "buffered": buffered},
                ),
                pipe.hsetnx(key, "joined_at", repr(now)),
                pipe.hincrby(key, "messages_total", 1),
                *self._count(pipe, chat_id, "messages", now),
            )
        )

    async def record(self, chat_id: str, counter: str, amount: int = 1) -> None:
        """Count a reply, a skipped message, a failed reply or a flushed batch."""
        if counter not in COUNTERS:
            raise ValueError(f"unknown counter {counter!r}")
        now = self.clock.now()
        key = chat_key(self.platform, chat_id)
        await self._run(
            lambda pipe: (
                pipe.sadd(chats_key(self.platform), chat_id),
                pipe.hincrby(key, f"{counter}_total", amount),
                *self._count(pipe, chat_id, counter, now, amount),
            )
        )

    async def set_status(
        self,
        chat_id: str,
        status: str,
        reason: str,
        *,
        title: str = "",
        chat_type: str = "",
        added_by_admin: bool | None = None,
    ) -> None:
        """Mark a chat ``allowed`` or ``left``, with the validator's reason."""
        mapping = {"status": status, "status_reason": reason}
        if added_by_admin is not None:
            mapping["added_by_admin"] = "1" if added_by_admin else "0"
        if title:
            mapping["title"] = title
        if chat_type:
            mapping["type"] = chat_type
        await self._run(
            lambda pipe: (
                pipe.sadd(chats_key(self.platform), chat_id),
                pipe.hset(chat_key(self.platform, chat_id), mapping=mapping),
            )
        )

    async def status(self, chat_id: str) -> str | None:
        """``allowed``, ``left``, or ``None`` for a chat never validated."""
        value = await self.redis.hget(chat_key(self.platform, chat_id), "status")
        return None if value is None else as_text(value)

    async def added_by_admin(self, chat_id: str) -> bool:
        """Whether an admin added the bot to the chat (kept by ``set_status``)."""
        return as_text(await self.redis.hget(chat_key(self.platform, chat_id), "added_by_admin")) == "1"

    async def chat_ids(self, *, status: str | None = None) -> list[str]:
        """Known chat ids, optionally only those with ``status``."""
        ids = sorted(as_text(item) for item in await self.redis.smembers(chats_key(self.platform)))
        if status is None:
            return ids
        statuses = [await self.redis.hget(chat_key(self.platform, chat_id), "status") for chat_id in ids]
        return [chat_id for chat_id, value in zip(ids, statuses, strict=True) if as_text(value) == status]

    async def snapshot(self) -> list[ChatStatus]:
        """Every known chat with its activity and health, busiest first."""
        now_hour = int(self.clock.now() // 3600)
        statuses = []
        for chat_id in await self.chat_ids():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(chat_key(self.platform, chat_id))
                for hour in range(now_hour - 23, now_hour + 1):
                    pipe.hgetall(hour_key(self.platform, chat_id, hour))
                results = await pipe.execute()
            info = {as_text(k): as_text(v) for k, v in results[0].items()}
            window = {counter: 0 for counter in COUNTERS}
            for bucket in results[1:]:
                for field, value in bucket.items():
                    window[as_text(field)] = window.get(as_text(field), 0) + int(value)
            status = info.get("status", "unchecked")
            statuses.append(
                ChatStatus(
                    platform=self.platform,
                    chat_id=chat_id,
                    title=info.get("title", ""),
                    type=info.get("type", ""),
                    status=status,
                    status_reason=info.get("status_reason", ""),
                    activity=activity_level(window["messages"]),
                    health=chat_health(
                        status=status,
                        replies_24h=window["replies"],
                        errors_24h=window["errors"],
                        skipped_24h=window["skipped"],
                    ),
                    messages_24h=window["messages"],
                    replies_24h=window["replies"],
                    skipped_24h=window["skipped"],
                    errors_24h=window["errors"],
                    messages_total=int(info.get("messages_total", 0)),
                    batches_total=int(info.get("batches_total", 0)),
                    buffered=int(info.get("buffered", 0)),
                    last_message_at=float(info["last_message_at"]) if "last_message_at" in info else None,
                )
            )
        statuses.sort(key=lambda item: (-item.messages_24h, item.chat_id))
        return statuses

    async def daily_report(self, day: str) -> list[ChatDay]:
        """Every chat's counts on one UTC day (``YYYY-MM-DD``, one of the last 35), busiest first."""
        days = []
        for chat_id in await self.chat_ids():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hget(chat_key(self.platform, chat_id), "title")
                pipe.hgetall(day_key(self.platform, chat_id, day))
                title, counts = await pipe.execute()
            window = {counter: 0 for counter in COUNTERS} | {as_text(k): int(v) for k, v in counts.items()}
            if not any(window.values()):
                continue
            days.append(
                ChatDay(
                    platform=self.platform,
                    chat_id=chat_id,
                    title=as_text(title) if title is not None else "",
                    day=day,
                    activity=activity_level(window["messages"]),
                    **{counter: window[counter] for counter in COUNTERS},
                )
            )
        days.sort(key=lambda item: (-item.messages, item.chat_id))
        return days

    def _count(self, pipe: Any, chat_id: str, counter: str, now: float, amount: int = 1) -> tuple[Any, ...]:
        hour = hour_key(self.platform, chat_id, int(now // 3600))
        day = day_key(self.platform, chat_id, utc_day(now))
        return (
            pipe.hincrby(hour, counter, amount),
            pipe.expire(hour, HOUR_TTL_SECONDS),
            pipe.hincrby(day, counter, amount),
            pipe.expire(day, DAY_TTL_SECONDS),
        )

    async def _run(self, build: Any) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                build(pipe)
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis is not usable: {exc}") from exc


def summarise_day(days: list[ChatDay]) -> dict[str, Any]:
    """Totals of a daily report: active chats, the day's counts and chats by activity level."""
    totals: dict[str, Any] = {"chats": len(days)}
    for counter in COUNTERS:
        totals[counter] = sum(getattr(chat, counter) for chat in days)
    totals["activity"] = dict(Counter(chat.activity for chat in days))
    return totals


def summarise(chats: list[ChatStatus]) -> dict[str, Any]:
    """Totals over every chat: counts by status, activity and health, and messages in the last 24 h."""
    totals: dict[str, Any] = {"chats": len(chats), "messages_24h": sum(chat.messages_24h for chat in chats)}
    for attribute in ("status", "activity", "health"):
        counts: dict[str, int] = {}
        for chat in chats:
            value = getattr(chat, attribute)
            counts[value] = counts.get(value, 0) + 1
        totals[attribute] = counts
    return totals
