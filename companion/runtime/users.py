"""Data rights: everything stored about one user, exported as JSON or erased, by every front-end alike.

``DELETE /v1/users/{id}``, the bots' ``/forget`` and ``companion users erase`` all call :func:`erase_user`, so what
one of them leaves behind the others leave too (nothing). A front-end without a checkpointer (the bots) passes
``None``.

A user's data lives in four places:

- Chroma: their collection (``LongTermStore``), the source of truth;
- Redis: short-term turns, last activity, injection offences and restrictions (``companion:u:{<user>}:*``), their
  rate-limit counters, their entries on the association queue, their security incidents and their API keys;
- the LangGraph checkpointer (SQLite): threads ``<user>:<conversation>`` (each id encoded, ``memory.keys``),
  found through the user id the conversation graph writes into each checkpoint's metadata (and, for older
  checkpoints, through the conversation ids Chroma and Redis know).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from companion.runtime.ingest import INGEST_STREAM, forget_submissions
from companion.services import Services
from graphs.reflection import archive_store
from memory.association_queue import DEAD_LETTER_STREAM, RETRY_STREAM
from memory.keys import CHECKPOINT_USER_KEY, decode_part, hash_tag, split_thread_id, thread_id
from memory.links import relation_to_dict, version_to_dict
from memory.outreach import OUTBOX_STREAM
from memory.profiles import ProfileStore
from memory.records import validate_user_id
from memory.security import INCIDENTS_MAX, SecurityStore
from memory.short_term import ASSOCIATION_STREAM, INTERACTIONS_KEPT, PREFIX, parsed_interaction
from tools.updates import forget_readings


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """How much of each kind of data an erasure removed."""

    memories: int
    redis_keys: int
    rate_limit_keys: int
    queued_messages: int
    checkpoint_threads: int
    api_keys: int
    security_incidents: int
    link_records: int
    personality_states: int
    ingest_submissions: int
    archived_memories: int
    reflection_log: int


async def conversation_ids(services: Services, checkpointer: BaseCheckpointSaver[Any] | None, user_id: str) -> set[str]:
    """Every conversation id of ``user_id`` that any store knows."""
    records = await asyncio.to_thread(services.long_term.list_memories, user_id, limit=1_000_000)
    found = {record.conversation_id for record in records if record.conversation_id}
    async for key in services.redis.scan_iter(match=f"{PREFIX}:u:{hash_tag(user_id)}:c:*:turns", count=500):
        text = key.decode() if isinstance(key, bytes) else key
        found.add(decode_part(text.split(":c:{", 1)[1].rsplit("}:turns", 1)[0]))
    for thread in await checkpoint_threads(checkpointer, user_id, set()):
        ids = split_thread_id(thread)
        if ids is not None:
            found.add(ids[1])
    return found


async def checkpoint_threads(
    checkpointer: BaseCheckpointSaver[Any] | None, user_id: str, conversations: set[str]
) -> set[str]:
    """Thread ids of ``user_id`` in the checkpointer: tagged with the user, or one of their known conversations."""
    threads: set[str] = set()
    if checkpointer is None:
        return threads
    async for item in checkpointer.alist(None, filter={CHECKPOINT_USER_KEY: user_id}):
        found = str(item.config["configurable"]["thread_id"])
        ids = split_thread_id(found)
        if ids is not None and ids[0] == user_id:  # not a thread id of another form (one a migration left)
            threads.add(found)
    for conversation_id in conversations:
        thread = thread_id(user_id, conversation_id)
        if await checkpointer.aget_tuple({"configurable": {"thread_id": thread}}) is not None:
            threads.add(thread)
    return threads


async def export_user(
    services: Services, checkpointer: BaseCheckpointSaver[Any] | None, user_id: str
) -> dict[str, Any]:
    """All data of ``user_id`` as one JSON-able dict."""
    validate_user_id(user_id)
    records = await asyncio.to_thread(services.long_term.list_memories, user_id, limit=1_000_000)
    conversations = await conversation_ids(services, checkpointer, user_id)
    short_term = {}
    for conversation_id in sorted(conversations):
        context = await services.short_term.load(user_id, conversation_id)
        if context.turns:
            short_term[conversation_id] = [turn.to_dict() for turn in context.turns]
    last_active = (await services.short_term.load(user_id, "default")).last_active
    threads = []
    for thread in sorted(await checkpoint_threads(checkpointer, user_id, conversations)):
        assert checkpointer is not None  # threads are only found in a checkpointer
        latest = await checkpointer.aget_tuple({"configurable": {"thread_id": thread}})
        values = dict(latest.checkpoint["channel_values"]) if latest else {}
        values.pop("query_embedding", None)  # a 384-float vector of the message, which is exported as text
        threads.append({"thread_id": thread, "latest_state": json.loads(json.dumps(values, default=str))})
    keys = [key.to_dict() for key in await services.api_keys.list() if key.user_id == user_id]
    queued = [
        fields
        for stream in (ASSOCIATION_STREAM, RETRY_STREAM)
        for _, fields in await services.short_term.queued_entries(user_id, stream=stream)
    ]
    return {
        "user_id": user_id,
        "exported_at": time.time(),
        "memories": [record.to_dict() for record in records],
        "short_term": {"last_active": last_active, "conversations": short_term},
        "queued_messages": queued,
        "checkpoint_threads": threads,
        "api_keys": keys,
        "security_incidents": await SecurityStore(services.redis).incidents(limit=INCIDENTS_MAX, user_id=user_id),
        "profile": (await ProfileStore(services.redis).get(user_id)).to_dict(),
        "interactions": [
            parsed_interaction(row)
            for row in await services.short_term.interactions(user_id, limit=INTERACTIONS_KEPT * 2)
        ],
        **await asyncio.to_thread(_links_and_personality, services, user_id, [record.id for record in records]),
    }


def _links_and_personality(services: Services, user_id: str, memory_ids: list[str]) -> dict[str, Any]:
    links = services.links
    personality = services.personality
    return {
        "versions": [version_to_dict(v) for memory_id in memory_ids for v in links.versions(user_id, memory_id)],
        "relations": [relation_to_dict(relation) for relation in links.relations(user_id)],
        "personality": personality.read_user(user_id),
    }


#: Every Redis stream whose entries name a user: the association queue, its retries and dead letters, the ingestion
#: queue and its dead letters, and the outbox of undelivered outreach. Erasing a user removes their entries from each.
USER_STREAMS = (
    ASSOCIATION_STREAM,
    RETRY_STREAM,
    DEAD_LETTER_STREAM,
    INGEST_STREAM,
    f"{INGEST_STREAM}:dead",
    OUTBOX_STREAM,
)


async def erase_user(services: Services, checkpointer: BaseCheckpointSaver[Any] | None, user_id: str) -> ErasureReport:
    """Erase every trace of ``user_id`` from Chroma, Redis and the checkpointer.

    A write, so it is rate limited like a message (the counter it adds is erased with the rest).
    """
    validate_user_id(user_id)
    await services.short_term.admit(user_id)
    conversations = await conversation_ids(services, checkpointer, user_id)
    threads = await checkpoint_threads(checkpointer, user_id, conversations)
    memories = await asyncio.to_thread(services.long_term.count, user_id)
    await asyncio.to_thread(services.long_term.delete_user, user_id)
    forget_readings()  # the texts recall read (the caches are keyed by text, so they are cleared for everyone)
    queued = 0
    for stream in USER_STREAMS:
        queued += await services.short_term.forget_queued(user_id, stream=stream)
    redis_keys = await services.short_term.forget_user(user_id)
    rate_limit_keys = await services.short_term.forget_rate_limits(user_id)
    for thread in threads:
        assert checkpointer is not None  # threads are only found in a checkpointer
        await checkpointer.adelete_thread(thread)
    link_records = await asyncio.to_thread(services.links.delete_user, user_id)
    personality_states = await asyncio.to_thread(services.personality.delete_user, user_id)
    submissions = await forget_submissions(services.redis, user_id)
    archive = archive_store(services.long_term)
    archived = await asyncio.to_thread(archive.count, user_id)
    await asyncio.to_thread(archive.delete_user, user_id)
    reflection_log = await asyncio.to_thread(services.reflection_log.delete_user, user_id)
    api_keys = await services.api_keys.revoke_user(user_id)
    incidents = await SecurityStore(services.redis).forget_incidents(user_id)
    # a personality checkpoint that was in flight when the memories went (another process's turn) is gone too
    personality_states += await asyncio.to_thread(services.personality.delete_user, user_id)
    return ErasureReport(
        memories=memories,
        redis_keys=redis_keys,
        rate_limit_keys=rate_limit_keys,
        queued_messages=queued,
        checkpoint_threads=len(threads),
        api_keys=api_keys,
        security_incidents=incidents,
        link_records=link_records,
        personality_states=personality_states,
        ingest_submissions=submissions,
        archived_memories=archived,
        reflection_log=reflection_log,
    )
