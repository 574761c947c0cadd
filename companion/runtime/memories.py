"""Memories written directly (the memory API's create and edit), perceived and classified as a chat message is.

``remember`` stores a text the way a chat turn stores a message, without the turn: one encoder run for the vector
and perception (emotion, importance, category), the local sensitivity classification, the utterance type, one copy
per content (the same text again returns the memory the user already has), the newest truth (an older statement
it gives a new value is marked superseded) and a place on the association queue with the pending mark.

``revise`` edits a memory's text: a new version (the old text stays in the version history, as association's
versions do), re-embedded and re-classified, never classified lower than it was.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from companion.core.errors import NotFoundError
from companion.runtime.ingest import Ingestor, without_copies
from memory.links import Version, version_id
from memory.records import MemoryKind, MemoryRecord, content_hash, validate_message, validate_user_id
from memory.short_term import ASSOCIATION_STREAM
from tools.sensitivity import classified
from tools.updates import detect_update
from tools.utterance import classify_utterance

if TYPE_CHECKING:
    from companion.services import Services

#: Where a memory written through the API says it came from (its conversation, and its versions' cause).
API_SOURCE = "api"
#: Nearest memories checked for an older value the new text updates.
UPDATE_CANDIDATES = 10


async def remember(
    services: Services, user_id: str, text: str, *, tags: Sequence[str] = (), created_at: float | None = None
) -> tuple[MemoryRecord, bool]:
    """Store ``text`` as a memory of ``user_id``; returns it and whether it is new (``False``: the user's copy).

    Counts against the user's rate limit like a message.
    """
    validate_user_id(user_id)
    text = validate_message(text, max_chars=services.settings.max_message_chars)
    await services.short_term.admit(user_id)
    ingestor = Ingestor.from_services(services)
    record = classified(
        MemoryRecord(
            id=uuid.uuid4().hex,
            user_id=user_id,
            text=text,
            kind=MemoryKind.EPISODIC,
            created_at=time.time() if created_at is None else created_at,
            conversation_id=API_SOURCE,
            utterance=classify_utterance(text).value,
            assoc_pending=True,  # queued for association below, until it has processed it
        )
    )
    if tags:
        record = replace(record, tags=tuple(dict.fromkeys([*record.tags, *tags])))
    vectors, scores = await asyncio.to_thread(ingestor.embed, [text])  # one encoder run: vector and perception
    kept, _ = await asyncio.to_thread(without_copies, services.long_term, user_id, [record], vectors)
    if not kept:
        existing = await asyncio.to_thread(_existing_copy, services, user_id, text, vectors)
        if existing is not None:
            return existing, False
    (detection,) = await asyncio.to_thread(ingestor.detect, [text], vectors, scores)
    record = replace(
        record,
        emotion=detection.emotion,
        emotion_intensity=int(detection.intensity),
        importance=int(detection.importance),
        category=detection.category,
    )
    nearest = await asyncio.to_thread(services.long_term.search_many, user_id, vectors, UPDATE_CANDIDATES)
    updated = [
        other.id
        for other, similarity in nearest[0]
        if not other.superseded_by and detect_update(text, other.text, similarity, old_type=other.utterance) is not None
    ]
    if updated:
        record = replace(record, supersedes=updated[0])
    await asyncio.to_thread(services.long_term.add, user_id, [record], vectors)
    if updated:  # after the new memory is stored: an old value is never left without a newer one
        await asyncio.to_thread(services.long_term.mark_superseded, user_id, updated, by=record.id)
    await services.redis.xadd(
        ASSOCIATION_STREAM,
        {
            "user_id": user_id,
            "conversation_id": API_SOURCE,
            "memory_id": record.id,
            "created_at": repr(record.created_at),
        },
    )
    return record, True


def _existing_copy(services: Services, user_id: str, text: str, vectors: np.ndarray) -> MemoryRecord | None:
    ids = services.long_term.ids_by_hash(user_id, [content_hash(text)]).get(content_hash(text), [])
    if ids:
        found = services.long_term.get_many(user_id, ids[:1])
        if found:
            return found[0]
    nearest = services.long_term.search_many(user_id, vectors, 1)
    return nearest[0][0][0] if nearest and nearest[0] else None


async def revise(services: Services, user_id: str, memory_id: str, text: str) -> MemoryRecord:
    """Give memory ``memory_id`` the text ``text`` as its next version; ``NotFoundError`` if there is none.

    The version it had is kept in the version history (``GET .../versions``); the same text again changes nothing.
    Counts against the user's rate limit like a message.
    """
    validate_user_id(user_id)
    text = validate_message(text, max_chars=services.settings.max_message_chars)
    await services.short_term.admit(user_id)
    existing = await asyncio.to_thread(services.long_term.get, user_id, memory_id)
    if existing is None:
        raise NotFoundError(f"no memory {memory_id!r} for user {user_id!r}")
    if existing.text == text:
        return existing
    now = time.time()
    revised = classified(
        replace(
            existing,
            text=text,
            version=existing.version + 1,
            last_accessed=now,
            utterance=classify_utterance(text).value,
        ),
        text=text,
    )
    vectors = await asyncio.to_thread(services.embedder.embed, [text])
    links = services.links
    previous = version_id(existing.id, existing.version)
    versions = [Version(existing.id, revised.version, text, API_SOURCE, "edited through the memory API", now)]
    if not await asyncio.to_thread(links.existing_version_ids, user_id, [previous]):
        versions.insert(0, Version(existing.id, existing.version, existing.text, existing.id, "", existing.created_at))
    await asyncio.to_thread(links.write_association, user_id, versions=versions)
    await asyncio.to_thread(services.long_term.upsert, user_id, [revised], vectors)
    return revised
