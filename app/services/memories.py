"""Memory reads and deletes for the API (all scoped to one user by ``LongTermStore``).

Reads honour the caller's clearance (``app.deps.Caller.clearance_for``): memories above it are left out of
listings and searches, and reading one by id is refused. ``level`` and ``tag`` narrow a listing or search.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.pagination import keyset_page
from app.schemas import Memory, MemoryPage, MemorySearchHit
from companion.core.errors import NotFoundError, PermissionDeniedError
from companion.runtime.memories import remember, revise
from companion.services import Services
from memory.records import MemoryRecord, validate_message
from memory.sensitivity import Sensitivity, allowed_at, decode_tags, parse_sensitivity
from tools.recall import recall

#: Listings with a filter read every memory of the user (metadata only) and filter here.
ALL_MEMORIES = 1_000_000


@dataclass(frozen=True, slots=True)
class MemoryFilter:
    """Which memories a read may show: at most ``clearance``; of exactly ``level`` and carrying ``tag`` if given."""

    clearance: Sensitivity = Sensitivity.ULTRASECRET
    level: Sensitivity | None = None
    tag: str | None = None
    since: float | None = None  # created at or after (epoch seconds)
    until: float | None = None  # created at or before

    @property
    def narrows(self) -> bool:
        """Whether anything could be left out."""
        return (
            self.clearance is not Sensitivity.ULTRASECRET
            or self.level is not None
            or self.tag is not None
            or self.since is not None
            or self.until is not None
        )

    def keeps(self, metadata: Mapping[str, Any]) -> bool:
        """Whether a memory with this metadata (Chroma's, or ``MemoryRecord.to_dict``) passes."""
        created = float(metadata.get("created_at") or 0.0)
        if (self.since is not None and created < self.since) or (self.until is not None and created > self.until):
            return False
        level = metadata.get("sensitivity")
        if not allowed_at(level, self.clearance):
            return False
        if self.level is not None and parse_sensitivity(level) is not self.level:
            return False
        return self.tag is None or self.tag in decode_tags(metadata.get("tags"))


def _newest_first(record: MemoryRecord) -> tuple[float, str]:
    return (record.created_at, record.id)


def _memory(record: MemoryRecord) -> Memory:
    return Memory.model_validate(record.to_dict())


async def list_or_search(
    services: Services,
    user_id: str,
    *,
    query: str | None,
    limit: int,
    cursor: str | None = None,
    only: MemoryFilter | None = None,
) -> MemoryPage:
    """Newest first, a page after ``cursor``, or with ``query`` the ``limit`` memories MMR selects for it.

    ``only`` filters both; when listing, ``total`` counts what passes it.
    """
    only = only or MemoryFilter()
    total = await asyncio.to_thread(services.long_term.count, user_id)
    if query is None:
        every = await asyncio.to_thread(services.long_term.list_memories, user_id, limit=ALL_MEMORIES)
        kept = [record for record in every if only.keeps(record.to_dict())] if only.narrows else every
        records, next_cursor = keyset_page(kept, key=_newest_first, limit=limit, cursor=cursor)
        memories = [_memory(r) for r in records]
        return MemoryPage(
            user_id=user_id, total=len(kept), query=None, memories=memories, hits=[], next_cursor=next_cursor
        )
    text = validate_message(query, max_chars=services.settings.max_message_chars)
    keep = only.keeps if only.narrows else None
    found = await asyncio.to_thread(
        recall, services.long_term, services.embedder, user_id, text, min(limit, 50), keep=keep
    )
    hits = [
        MemorySearchHit(
            memory=Memory.model_validate({**item.candidate.metadata, "id": item.candidate.id}),
            score=round(item.score, 6),
            similarity=round(item.candidate.similarity, 6),
        )
        for item in found.selected
    ]
    return MemoryPage(user_id=user_id, total=total, query=text, memories=[hit.memory for hit in hits], hits=hits)


async def get_memory(
    services: Services, user_id: str, memory_id: str, *, clearance: Sensitivity = Sensitivity.ULTRASECRET
) -> Memory:
    """One memory of ``user_id``; ``NotFoundError`` if it does not exist or is someone else's.

    ``PermissionDeniedError`` if it is classified above ``clearance`` (the text is not shown).
    """
    record = await asyncio.to_thread(services.long_term.get, user_id, memory_id)
    if record is None:
        raise NotFoundError(f"no memory {memory_id!r} for user {user_id!r}")
    if not allowed_at(record.sensitivity, clearance):
        raise PermissionDeniedError(
            f"memory {memory_id!r} is classified {record.sensitivity.value}; this API key's clearance is "
            f"{clearance.value} (companion keys create --admin --clearance LEVEL)"
        )
    return _memory(record)


async def delete_memory(services: Services, user_id: str, memory_id: str) -> None:
    """Delete one memory of ``user_id``; ``NotFoundError`` if there is no such memory of theirs.

    A write: it counts against the user's rate limit like a message.
    """
    await services.short_term.admit(user_id)
    if not await asyncio.to_thread(services.long_term.delete, user_id, memory_id):
        raise NotFoundError(f"no memory {memory_id!r} for user {user_id!r}")


async def create_memory(
    services: Services, user_id: str, text: str, *, tags: list[str], created_at: float | None
) -> tuple[Memory, bool]:
    """Store a memory directly; returns it and whether it is new (an equal one the user has is returned instead)."""
    record, created = await remember(services, user_id, text, tags=tags, created_at=created_at)
    return _memory(record), created


async def edit_memory(
    services: Services, user_id: str, memory_id: str, text: str, *, clearance: Sensitivity = Sensitivity.ULTRASECRET
) -> Memory:
    """Give a memory new text as its next version (403 above the key's clearance, 404 if there is none)."""
    await get_memory(services, user_id, memory_id, clearance=clearance)  # 404 / 403 before anything is written
    return _memory(await revise(services, user_id, memory_id, text))
