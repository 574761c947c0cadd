"""Clarification questions waiting for a user's next conversation, in Redis.

Reflection's *user clarification* strategy records the conflict in the reflection log (Chroma, the source of
truth, status ``awaiting_user``) and queues its question here, where the chat turn reads it with one small read.

Key (id wrapped in braces as in ``memory/short_term.py``, so ``ShortTermStore.forget_user`` drops it too):

- ``companion:u:{<user>}:clarify``   hash: conflict id -> JSON ``{conflict_id, question, memory_ids, texts,
                                     queued_at, asked_at, asked_in}``; ``asked_at`` is ``null`` until a turn asked
                                     the question, then the user's next message is taken as the answer

Redis losing the hash loses nothing for good: every reflection run queues the log's ``awaiting_user`` entries
again (without touching the ones already queued, so a question asked is not asked again).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, cast

from redis.asyncio import Redis
from typing_extensions import TypedDict

from memory.keys import UserKey
from memory.redis_io import as_text, redis_call

#: Redis hash of a user's queued clarification questions.
clarify_key = UserKey("clarify")


class ClarificationData(TypedDict):
    """:meth:`Clarification.to_dict`: a queued question as Redis and the conversation state carry it."""

    conflict_id: str
    question: str
    memory_ids: list[str]
    texts: list[str]
    queued_at: float
    asked_at: float | None
    asked_in: str


@dataclass(frozen=True, slots=True)
class Clarification:
    """One question about a conflict between two memories (older first)."""

    conflict_id: str
    question: str
    memory_ids: list[str]
    texts: list[str]
    queued_at: float
    asked_at: float | None = None
    asked_in: str = ""  # the turn (memory id) whose reply asked it

    def to_dict(self) -> ClarificationData:
        """A JSON-able dict."""
        return cast(ClarificationData, asdict(self))  # the fields, one to one

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Clarification:
        """The inverse of :meth:`to_dict`."""
        return cls(
            conflict_id=str(data["conflict_id"]),
            question=str(data["question"]),
            memory_ids=[str(i) for i in data["memory_ids"]],
            texts=[str(t) for t in data.get("texts", [])],
            queued_at=float(data.get("queued_at", 0.0)),
            asked_at=None if data.get("asked_at") is None else float(data["asked_at"]),
            asked_in=str(data.get("asked_in", "")),
        )


class ClarificationQueue:
    """A user's clarification questions in Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def queue(self, user_id: str, items: list[Clarification]) -> int:
        """Queue questions not queued yet (one already queued, asked or not, is left as it is); returns how many."""
        if not items:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for item in items:
                pipe.hsetnx(clarify_key(user_id), item.conflict_id, json.dumps(item.to_dict()))
            added = await redis_call(pipe.execute())
        return sum(int(flag) for flag in added)

    async def pending(self, user_id: str) -> list[Clarification]:
        """Every queued question of the user, oldest first (one ``HGETALL``: the chat turn's read)."""
        raw = await redis_call(self.redis.hgetall(clarify_key(user_id)))
        items = [Clarification.from_dict(json.loads(as_text(value))) for value in raw.values()]
        return sorted(items, key=lambda item: (item.queued_at, item.conflict_id))

    async def mark_asked(self, user_id: str, item: Clarification, *, at: float, turn_id: str) -> Clarification:
        """Record that a turn asked the question: the user's next message is its answer."""
        asked = replace(item, asked_at=at, asked_in=turn_id)
        await redis_call(self.redis.hset(clarify_key(user_id), item.conflict_id, json.dumps(asked.to_dict())))
        return asked

    async def remove(self, user_id: str, conflict_id: str) -> bool:
        """Drop a question (answered, or its conflict settled otherwise); returns whether it was queued."""
        return bool(await redis_call(self.redis.hdel(clarify_key(user_id), conflict_id)))
