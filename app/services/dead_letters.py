"""Dead letters of the worker's queues (association and ingestion), listed and replayed for admins."""

from __future__ import annotations

from typing import Any

from app.pagination import decode_cursor, encode_cursor
from companion.core.errors import InvalidInputError, NotFoundError
from companion.runtime.ingest import INGEST_GROUP, INGEST_STREAM
from companion.services import Services
from memory.association_queue import AssociationQueue

#: The queues with dead letters, by the name the API uses.
QUEUES = ("association", "ingest")


def queue_named(services: Services, name: str) -> AssociationQueue:
    """The association queue or the ingestion queue."""
    if name == "ingest":
        return AssociationQueue(services.redis, stream=INGEST_STREAM, group=INGEST_GROUP)
    return AssociationQueue(services.redis)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def list_dead_letters(services: Services, *, queue: str, limit: int, cursor: str | None = None) -> dict[str, Any]:
    """Dead letters of one queue, oldest first, a page at a time, with the error each failed with."""
    stream = queue_named(services, queue)
    after = None
    if cursor is not None:
        key = decode_cursor(cursor)
        if len(key) != 2 or not all(isinstance(part, int) and part >= 0 for part in key):
            raise InvalidInputError("cursor is not one this API returned (pass next_cursor unchanged)")
        after = f"{key[0]}-{key[1]}"
    entries = await stream.dead_letters(count=limit + 1, after=after)
    more, entries = len(entries) > limit, entries[:limit]
    total = int(await services.redis.xlen(stream.dead_stream))
    last = entries[-1].entry_id.split("-") if entries else []
    return {
        "queue": queue,
        "total": total,
        "next_cursor": encode_cursor((int(last[0]), int(last[1]))) if more and last else None,
        "dead_letters": [
            {
                "id": entry.entry_id,
                "user_id": entry.fields.get("user_id"),
                "error": entry.fields.get("error", ""),
                "failed_at": _float(entry.fields.get("failed_at")),
                "source_id": entry.fields.get("source_id"),
                "fields": {k: v for k, v in entry.fields.items() if k not in {"error", "failed_at", "source_id"}},
            }
            for entry in entries
        ],
    }


async def replay(services: Services, *, queue: str, ids: list[str] | None) -> dict[str, Any]:
    """Put dead letters (all, or the given ids) back on their queue; ``NotFoundError`` if none of the ids exist."""
    replayed = await queue_named(services, queue).replay_dead(ids)
    if ids is not None and replayed == 0:
        raise NotFoundError(f"no dead letter with any of those ids on the {queue} queue")
    return {"queue": queue, "replayed": replayed}
