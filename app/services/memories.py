"""Memory reads and deletes for the API (all scoped to one user by ``LongTermStore``)."""

from __future__ import annotations

import asyncio

from app.schemas import Memory, MemoryPage, MemorySearchHit
from companion.errors import NotFoundError
from companion.services import Services
from memory.records import MemoryRecord, validate_message
from tools.recall import recall


def _memory(record: MemoryRecord) -> Memory:
    return Memory.model_validate(record.to_dict())


async def list_or_search(services: Services, user_id: str, *, query: str | None, limit: int, offset: int) -> MemoryPage:
    """Newest first, or with ``query`` the ``limit`` memories MMR selects for it."""
    total = await asyncio.to_thread(services.long_term.count, user_id)
    if query is None:
        records = await asyncio.to_thread(services.long_term.list_memories, user_id, limit=limit, offset=offset)
        return MemoryPage(user_id=user_id, total=total, query=None, memories=[_memory(r) for r in records], hits=[])
    text = validate_message(query, max_chars=services.settings.max_message_chars)
    found = await asyncio.to_thread(recall, services.long_term, services.embedder, user_id, text, min(limit, 50))
    hits = [
        MemorySearchHit(
            memory=Memory.model_validate({**item.candidate.metadata, "id": item.candidate.id}),
            score=round(item.score, 6),
            similarity=round(item.candidate.similarity, 6),
        )
        for item in found.selected
    ]
    return MemoryPage(user_id=user_id, total=total, query=text, memories=[hit.memory for hit in hits], hits=hits)


async def get_memory(services: Services, user_id: str, memory_id: str) -> Memory:
    """One memory of ``user_id``; ``NotFoundError`` if it does not exist or is someone else's."""
    record = await asyncio.to_thread(services.long_term.get, user_id, memory_id)
    if record is None:
        raise NotFoundError(f"no memory {memory_id!r} for user {user_id!r}")
    return _memory(record)


async def delete_memory(services: Services, user_id: str, memory_id: str) -> None:
    """Delete one memory of ``user_id``; ``NotFoundError`` if there is no such memory of theirs.

    A write: it counts against the user's rate limit like a message.
    """
    await services.short_term.admit(user_id)
    if not await asyncio.to_thread(services.long_term.delete, user_id, memory_id):
        raise NotFoundError(f"no memory {memory_id!r} for user {user_id!r}")
