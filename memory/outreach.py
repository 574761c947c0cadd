"""Proactive outreach state in Redis: per-user preferences, what was sent, declines, and the durable outbox stream.

Keys (ids wrapped in braces as in ``memory/short_term.py``):

- ``companion:u:{<user>}:prefs``             hash: ``timezone`` (IANA name), ``quiet_start`` / ``quiet_end``
                                             (local hours), ``opt_out`` ("1" = never reach out)
- ``companion:u:{<user>}:outreach:sent``     sorted set: outreach id -> time sent (pruned after 30 days)
- ``companion:u:{<user>}:outreach:declined`` time of the user's last decline (a front-end calls ``record_decline``)
- ``companion:u:{<user>}:outreach:delivered`` sorted set: outreach id -> time the REST app's client acknowledged it
                                             (the bots acknowledge in their own consumer groups instead)
- ``companion:u:{<user>}:outreach:checkin``  hash: a gentle check-in planned after a crisis message (``due_at``,
                                             ``expires_at``, ``kind``), expiring with it; sending one clears it
- ``companion:stream:outbox``                the outbox: one entry per outreach, for the bots and the REST app;
                                             each send trims the entries more than 30 days old

An outbox entry has the string fields ``outreach_id``, ``user_id``, ``persona``, ``text``, ``trigger``
(``need_urgency``, ``timing_optimal`` or ``interaction_pattern``), ``score`` (final score, 0-1), ``reasons``
(JSON object: every score component and factor), ``created_at`` (epoch seconds). A consumer delivers ``text`` to
``user_id`` (e.g. ``deliver_outreach(user_id, text)``) and acknowledges the entry in its consumer group.

Sending is one Redis transaction (the outbox entry and the "sent" mark together), so an outreach is never sent
without being counted against the guardrails, nor counted without being sent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from redis.asyncio import Redis

from companion.core.errors import InvalidInputError
from memory.keys import PREFIX, UserKey
from memory.redis_io import as_text, redis_call

OUTBOX_STREAM = f"{PREFIX}:stream:outbox"
SENT_RETENTION_SECONDS = 30 * 86_400.0
DEFAULT_QUIET_START, DEFAULT_QUIET_END = 22, 8


#: Redis hash of a user's outreach preferences.
prefs_key = UserKey("prefs")
#: Redis sorted set of a user's outreaches.
sent_key = UserKey("outreach:sent")
#: Redis key of a user's last decline.
declined_key = UserKey("outreach:declined")
#: Redis sorted set of the user's outreaches acknowledged through the REST app.
delivered_key = UserKey("outreach:delivered")
#: Redis hash of a user's planned check-in.
checkin_key = UserKey("outreach:checkin")


#: The trigger of a check-in outreach (``OutreachStore.send`` clears the plan when it sends one).
CHECK_IN_TRIGGER = "check_in"


@dataclass(frozen=True, slots=True)
class CheckIn:
    """A planned check-in: due from ``due_at`` until ``expires_at`` (epoch seconds)."""

    due_at: float
    expires_at: float
    kind: str


def validate_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone, else raise ``InvalidInputError``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(f"unknown time zone {name!r}: use an IANA name such as Europe/Paris or UTC") from None
    return name


@dataclass(frozen=True, slots=True)
class OutreachPrefs:
    """A user's outreach preferences."""

    timezone: str = "UTC"
    quiet_start: int = DEFAULT_QUIET_START
    quiet_end: int = DEFAULT_QUIET_END
    opt_out: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "timezone": self.timezone,
            "quiet_hours": f"{self.quiet_start:02d}-{self.quiet_end:02d}",
            "opt_out": self.opt_out,
        }


@dataclass(frozen=True, slots=True)
class OutreachHistory:
    """What the guardrails need to know about past outreaches."""

    sent: list[float]  # times, oldest first (last 30 days)
    declined_at: float | None


class OutreachStore:
    """Outreach preferences, history and the outbox in Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def prefs(self, user_id: str) -> OutreachPrefs:
        """The user's preferences (defaults: UTC, quiet 22-08, opted in)."""
        raw = await redis_call(self.redis.hgetall(prefs_key(user_id)))
        values = {as_text(key): as_text(value) for key, value in raw.items()}
        return OutreachPrefs(
            timezone=values.get("timezone", "UTC"),
            quiet_start=int(values.get("quiet_start", DEFAULT_QUIET_START)),
            quiet_end=int(values.get("quiet_end", DEFAULT_QUIET_END)),
            opt_out=values.get("opt_out") == "1",
        )

    async def set_prefs(
        self,
        user_id: str,
        *,
        timezone: str | None = None,
        quiet_hours: tuple[int, int] | None = None,
        opt_out: bool | None = None,
    ) -> OutreachPrefs:
        """Change some preferences; returns them all."""
        mapping: dict[str, str] = {}
        if timezone is not None:
            mapping["timezone"] = validate_timezone(timezone)
        if quiet_hours is not None:
            start, end = quiet_hours
            if not (0 <= start <= 23 and 0 <= end <= 23):
                raise InvalidInputError(f"quiet hours must be hours 0-23, got {start}-{end}")
            mapping["quiet_start"], mapping["quiet_end"] = str(start), str(end)
        if opt_out is not None:
            mapping["opt_out"] = "1" if opt_out else "0"
        if mapping:
            await redis_call(self.redis.hset(prefs_key(user_id), mapping=mapping))  # type: ignore[arg-type]
        return await self.prefs(user_id)

    async def history(self, user_id: str, *, now: float) -> OutreachHistory:
        """Outreaches of the last 30 days and the last decline."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrangebyscore(sent_key(user_id), now - SENT_RETENTION_SECONDS, "+inf", withscores=True)
            pipe.get(declined_key(user_id))
            sent, declined = await redis_call(pipe.execute())
        return OutreachHistory(
            sent=sorted(float(score) for _, score in sent), declined_at=float(declined) if declined else None
        )

    async def record_decline(self, user_id: str, *, now: float) -> None:
        """The user said "not now" to an outreach: the guardrails keep quiet for 24 hours."""
        await redis_call(self.redis.set(declined_key(user_id), repr(now), ex=int(SENT_RETENTION_SECONDS)))

    async def plan_checkin(self, user_id: str, *, due_at: float, expires_at: float, kind: str) -> None:
        """Plan a check-in (a later crisis keeps the earliest plan that is still pending)."""
        key = checkin_key(user_id)
        current = await self.checkin(user_id, now=due_at)
        if current is not None and current.due_at <= due_at:
            return
        ttl = max(1, int(expires_at - time.time()))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"due_at": repr(due_at), "expires_at": repr(expires_at), "kind": kind})
            pipe.expire(key, ttl)
            await redis_call(pipe.execute())

    async def checkin(self, user_id: str, *, now: float) -> CheckIn | None:
        """The planned check-in that has not expired by ``now``, if any."""
        fields = await redis_call(self.redis.hgetall(checkin_key(user_id)))
        if not fields:
            return None
        data = {as_text(k): as_text(v) for k, v in fields.items()}
        plan = CheckIn(due_at=float(data["due_at"]), expires_at=float(data["expires_at"]), kind=data.get("kind", ""))
        return plan if now < plan.expires_at else None

    async def send(self, user_id: str, entry: dict[str, Any], *, now: float) -> str:
        """Put an outreach in the outbox and count it as sent, in one transaction; returns the stream entry id.

        The same command trims the outbox of entries more than ``SENT_RETENTION_SECONDS`` old, so the stream (and
        the outreach texts in it) does not grow forever: an outreach a month old is no longer worth delivering. The
        cut-off is the wall clock, as the stream's ids are, not ``now`` (which a simulation may move).
        """
        fields = {key: value if isinstance(value, str) else json.dumps(value) for key, value in entry.items()}
        oldest_kept = f"{int((time.time() - SENT_RETENTION_SECONDS) * 1000)}-0"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(OUTBOX_STREAM, fields, minid=oldest_kept, approximate=False)  # type: ignore[arg-type]
            pipe.zadd(sent_key(user_id), {str(entry["outreach_id"]): now})
            pipe.zremrangebyscore(sent_key(user_id), "-inf", now - SENT_RETENTION_SECONDS)
            if entry.get("trigger") == CHECK_IN_TRIGGER:
                pipe.delete(checkin_key(user_id))
            results = await redis_call(pipe.execute())
        return as_text(results[0])

    async def outbox(self, *, count: int = 1000) -> list[dict[str, str]]:
        """The newest ``count`` outbox entries, oldest first (for inspection and tests)."""
        entries = await redis_call(self.redis.xrevrange(OUTBOX_STREAM, count=count))
        return [
            {"entry_id": as_text(entry_id), **{as_text(k): as_text(v) for k, v in fields.items()}}
            for entry_id, fields in reversed(entries)
        ]

    async def for_user(self, user_id: str, *, since: float = 0.0) -> list[dict[str, str]]:
        """The user's outbox entries added after ``since`` (wall-clock epoch seconds, as stream ids are), oldest first.

        A scan of the outbox stream, which holds at most 3 outreaches a day per user.
        """
        found: list[dict[str, str]] = []
        start = f"{int(since * 1000)}-0" if since > 0 else "-"
        while True:
            batch: list[Any] = await redis_call(self.redis.xrange(OUTBOX_STREAM, min=start, max="+", count=1000))
            for entry_id, fields in batch:
                decoded = {as_text(k): as_text(v) for k, v in fields.items()}
                if decoded.get("user_id") == user_id:
                    found.append({"entry_id": as_text(entry_id), **decoded})
            if len(batch) < 1000:
                return found
            start = "(" + as_text(batch[-1][0])

    async def undelivered(self, user_id: str, *, now: float) -> list[dict[str, str]]:
        """Outreaches of the 30 days before ``now`` (wall clock) not acknowledged through the REST app, oldest first."""
        since = now - SENT_RETENTION_SECONDS
        entries = await self.for_user(user_id, since=since)
        delivered = set(map(as_text, await redis_call(self.redis.zrangebyscore(delivered_key(user_id), since, "+inf"))))
        return [entry for entry in entries if entry.get("outreach_id") not in delivered]

    async def acknowledge(self, user_id: str, outreach_id: str, *, now: float) -> float | None:
        """Mark one of the user's outreaches delivered (idempotent); returns when, or ``None`` if it is not theirs."""
        key = delivered_key(user_id)
        already = await redis_call(self.redis.zscore(key, outreach_id))
        if already is not None:
            return float(already)
        entries = await self.for_user(user_id, since=now - SENT_RETENTION_SECONDS)
        if not any(entry.get("outreach_id") == outreach_id for entry in entries):
            return None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {outreach_id: now})
            pipe.zremrangebyscore(key, "-inf", now - SENT_RETENTION_SECONDS)
            pipe.expire(key, int(SENT_RETENTION_SECONDS))
            await redis_call(pipe.execute())
        return now
