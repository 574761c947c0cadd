"""Raw-session ingestion for the API (design seed 001), over ``companion.runtime.ingest`` and the worker's queues.

Submitting stores the transcript and queues it (``submit_transcript``); the worker processes it. Every read here
is scoped to one user: a submission id of another user's is "not found", like a memory id.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

from app.queries import epoch
from companion.core.errors import InvalidInputError, NotFoundError
from companion.runtime.ingest import (
    INGEST_BATCH_SIZE,
    INGEST_GROUP,
    INGEST_STREAM,
    cleanup_raw,
    memory_tree,
    parse_transcript,
    submission_status,
    submissions_key,
    submit_transcript,
)
from companion.services import Services
from memory.association_queue import AssociationQueue

#: What one submission is taken to need before the user has a processed one to measure.
TYPICAL_PROCESSING_SECONDS = 5.0
#: What a submission's status hash may hold, and how each field reads back.
_FLOAT_FIELDS = ("queued_at", "started_at", "finished_at")


def ingest_queue(services: Services) -> AssociationQueue:
    """The ingestion stream with its consumer group and dead letters."""
    return AssociationQueue(services.redis, stream=INGEST_STREAM, group=INGEST_GROUP)


def messages_as_jsonl(messages: list[dict[str, Any]]) -> str:
    """Structured messages as the JSON-lines transcript ``parse_transcript`` reads (line n = message n)."""
    return "\n".join(json.dumps(message) for message in messages)


async def submit(
    services: Services,
    user_id: str,
    *,
    session_id: str,
    transcript: str,
    skip_invalid: bool,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parse, check and queue one session; a write, so it counts against the user's rate limit.

    The answer carries seed 001's ``estimated_processing_time`` (:func:`estimate_processing`).
    """
    await services.short_term.admit(user_id)
    parsed = parse_transcript(transcript, max_chars=services.settings.max_message_chars)
    try:
        submission = await submit_transcript(
            services.redis,
            services.links,
            user_id=user_id,
            session_id=session_id,
            parsed=parsed,
            skip_invalid=skip_invalid,
            source="session",
            metadata=metadata,
        )
    except InvalidInputError as exc:  # the transcript's words for a file: say them for this body (line n = message n)
        detail = str(exc).replace("line", "message").replace("--skip-invalid", '"skip_invalid": true')
        raise InvalidInputError(detail) from None
    return submission.to_dict() | await estimate_processing(services, user_id, submission.queue_position)


async def estimate_processing(services: Services, user_id: str, queue_position: int) -> dict[str, Any]:
    """About how long a submission at ``queue_position`` waits: worker ticks to reach it, plus processing.

    A worker takes ``INGEST_BATCH_SIZE`` submissions a tick (``COMPANION_ASSOCIATION_INTERVAL_SECONDS`` apart), and
    each takes what the user's recent ones took (their mean, or ``TYPICAL_PROCESSING_SECONDS`` before the first).
    Without a live worker nothing is processed, so there is no estimate (and the words say why).
    """
    beats, recent = await asyncio.gather(workers(services), user_submissions(services, user_id, limit=20))
    if not any(beat["alive"] for beat in beats):
        return {
            "estimated_processing_seconds": None,
            "estimated_processing_time": "waiting: no worker is running (companion worker, or serve with background)",
        }
    took = [s["finished_at"] - s["started_at"] for s in recent if s.get("status") == "done" and "started_at" in s]
    each = sum(took) / len(took) if took else TYPICAL_PROCESSING_SECONDS
    ticks = math.ceil(max(queue_position, 1) / INGEST_BATCH_SIZE)
    seconds = round(ticks * services.settings.association_interval_seconds + max(queue_position, 1) * each, 1)
    words = "under a minute" if seconds < 60 else f"about {math.ceil(seconds / 60)} minutes"
    return {"estimated_processing_seconds": seconds, "estimated_processing_time": words}


def _status_view(raw: dict[str, Any]) -> dict[str, Any]:
    view = dict(raw)
    for name in _FLOAT_FIELDS:
        if name in view:
            view[name] = float(view[name])
    return view


async def status(services: Services, user_id: str, submission_id: str) -> dict[str, Any]:
    """One submission of ``user_id``; ``NotFoundError`` if there is none (or it is another user's)."""
    try:
        found = await submission_status(services.redis, submission_id)
    except InvalidInputError:
        found = None
    if found is None or found.get("user_id") != user_id:
        raise NotFoundError(f"no submission {submission_id!r} for user {user_id!r}")
    return _status_view(found)


async def user_submissions(services: Services, user_id: str, *, limit: int) -> list[dict[str, Any]]:
    """The user's most recent submissions, newest first (status records dropped by erasure are skipped)."""
    members = await services.redis.zrevrange(submissions_key(user_id), 0, limit - 1)
    found = []
    for member in members:
        submission_id = member.decode() if isinstance(member, bytes) else str(member)
        try:
            raw = await submission_status(services.redis, submission_id)
        except InvalidInputError:
            continue
        if raw.get("user_id") == user_id:
            found.append(_status_view(raw))
    return found


async def workers(services: Services) -> list[dict[str, Any]]:
    """Heartbeats of the workers seen, newest first, with their age in seconds."""
    beats = await AssociationQueue(services.redis).workers()
    now = time.time()
    listed = [
        {
            "consumer": consumer,
            "alive": bool(beat.get("alive")),
            "last_beat_at": float(beat.get("at", 0.0)),
            "age_seconds": round(max(0.0, now - float(beat.get("at", 0.0))), 3),
            "processed": int(beat.get("processed", 0)),
            "host": str(beat.get("host", "")),
            "pid": int(beat.get("pid", 0)),
        }
        for consumer, beat in beats.items()
    ]
    return sorted(listed, key=lambda beat: beat["last_beat_at"], reverse=True)


async def processing(services: Services, user_id: str, *, limit: int) -> dict[str, Any]:
    """Seed 001's processing status: the queues, the workers' heartbeats and the user's recent submissions."""
    ingest, association, beats, submissions = await asyncio.gather(
        ingest_queue(services).backlog(),
        AssociationQueue(services.redis).backlog(),
        workers(services),
        user_submissions(services, user_id, limit=limit),
    )
    return {
        "user_id": user_id,
        "ingest_queue": ingest,
        "association_queue": association,
        "worker_alive": any(beat["alive"] for beat in beats),
        "workers": beats,
        "submissions": submissions,
    }


async def hierarchy(
    services: Services,
    user_id: str,
    *,
    session_id: str | None,
    memory_type: str,
    start: str | None,
    end: str | None,
    limit: int,
) -> dict[str, Any]:
    """The memory tree: session -> summary -> discrete memories (and what association made of them) -> raw."""
    low, high = epoch(start, "start_date"), epoch(end, "end_date")
    return await asyncio.to_thread(
        memory_tree,
        services.long_term,
        services.links,
        user_id,
        session_id=session_id,
        memory_type=memory_type,
        start=low,
        end=high,
        limit=limit,
    )


async def session(services: Services, user_id: str, session_id: str) -> dict[str, Any]:
    """Everything about one ingested session: its tree node and its submissions; ``NotFoundError`` if none."""
    tree = await asyncio.to_thread(
        memory_tree,
        services.long_term,
        services.links,
        user_id,
        session_id=session_id,
        memory_type="all",
        limit=1000,
    )
    submissions = [
        item for item in await user_submissions(services, user_id, limit=10_000) if item.get("session_id") == session_id
    ]
    if not tree["sessions"] and not submissions:
        raise NotFoundError(f"no session {session_id!r} for user {user_id!r}")
    node = tree["sessions"][0] if tree["sessions"] else {"session_id": session_id, "memories": [], "raw": []}
    return {"user_id": user_id, "session": node, "submissions": submissions}


async def stats(services: Services, user_id: str) -> dict[str, Any]:
    """Counts of the user's hierarchy (memories, summaries, raw transcripts, versions, relations, submissions)."""
    links = services.links

    def counts() -> dict[str, int]:
        return {
            "memories": services.long_term.count(user_id),
            "summaries": links.count(user_id, "summary"),
            "raw_transcripts": links.count(user_id, "raw"),
            "versions": links.count(user_id, "version"),
            "relations": links.count(user_id, "relation"),
        }

    stored, submissions, queue = await asyncio.gather(
        asyncio.to_thread(counts), user_submissions(services, user_id, limit=100_000), ingest_queue(services).backlog()
    )
    by_status = {name: 0 for name in ("queued", "processing", "done", "failed")}
    for item in submissions:
        by_status[str(item.get("status"))] = by_status.get(str(item.get("status")), 0) + 1
    return {
        "user_id": user_id,
        **stored,
        "submissions": by_status,
        "ingested_messages": sum(int(item.get("memories", 0)) for item in submissions),
        "ingest_queue": queue,
    }


async def cleanup(services: Services, user_id: str, *, retention_days: float) -> dict[str, Any]:
    """Remove the user's processed raw transcripts older than ``retention_days`` (queued ones stay)."""
    await services.short_term.admit(user_id)
    removed = await cleanup_raw(services.redis, services.links, retention_days=retention_days, user_ids=[user_id])
    return {"user_id": user_id, "removed_raw_transcripts": removed, "retention_days": retention_days}
