"""Admin views: users with memories and security incidents."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from app.pagination import keyset_page
from app.schemas import (
    CrisisIncident,
    CrisisList,
    Incident,
    IncidentList,
    IncidentReview,
    SystemCleanup,
    SystemStats,
    UserList,
)
from app.services.dead_letters import QUEUES, queue_named
from companion.core.errors import NotFoundError
from companion.runtime.ingest import cleanup_raw
from companion.services import Services
from memory.security import CRISES_MAX, INCIDENTS_MAX, INCIDENTS_STREAM, SecurityStore
from tools.reviews import review_false_positive


def _stream_order(item: dict[str, Any]) -> tuple[int, int]:
    """A stream entry's id (``<ms>-<seq>``) as numbers: the order the entries were written in."""
    ms, _, seq = str(item["id"]).partition("-")
    return int(ms), int(seq or 0)


async def list_users(
    services: Services, *, limit: int = 1000, cursor: str | None = None, tenant: str | None = None
) -> UserList:
    """Users with a long-term collection (of one ``tenant`` if given), by id, a page at a time."""
    users = await asyncio.to_thread(services.long_term.list_users, tenant=tenant)
    page, next_cursor = keyset_page(users, key=lambda user: (user,), limit=limit, cursor=cursor, descending=False)
    return UserList(users=page, total=len(users), next_cursor=next_cursor)


async def list_incidents(
    services: Services, *, limit: int, user_id: str | None, tenant: str | None = None, cursor: str | None = None
) -> IncidentList:
    """Detected injection attempts, newest first (of one ``tenant``'s users if given), a page at a time."""
    raw = await SecurityStore(services.redis).incidents(limit=INCIDENTS_MAX, user_id=user_id)
    page, next_cursor = await _tenant_page(services, raw, tenant=tenant, limit=limit, cursor=cursor)
    return IncidentList(incidents=[_incident(item) for item in page], next_cursor=next_cursor)


def _incident(item: dict[str, Any]) -> Incident:
    return Incident(
        id=item["id"],
        user_id=item["user_id"],
        kind=item["kind"],
        score=float(item["score"]),
        severity=item["severity"],
        indicators=[part for part in item.get("indicators", "").split(",") if part],
        offences_7d=int(item["offences_7d"]),
        escalation_level=int(item["escalation_level"]),
        excerpt=item.get("excerpt", ""),
        detected_at=float(item["detected_at"]),
        review="false_positive" if item.get("review") == "false_positive" else "",
    )


async def _tenant_page(
    services: Services, entries: list[dict[str, Any]], *, tenant: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of stream ``entries`` (incidents, crises), newest first, of ``tenant``'s users (any user's if none)."""
    members = await _members(services, tenant)
    visible = entries if members is None else [item for item in entries if item.get("user_id") in members]
    return keyset_page(visible, key=_stream_order, limit=limit, cursor=cursor)


async def _members(services: Services, tenant: str | None) -> set[str] | None:
    if tenant is None:
        return None
    return set(await asyncio.to_thread(services.long_term.list_users, tenant=tenant))


async def mark_false_positive(services: Services, incident_id: str, *, tenant: str | None = None) -> IncidentReview:
    """Mark an incident a false positive: its offence and mood penalty are taken back (tenant admins: their users)."""
    store = SecurityStore(services.redis)
    found = await store.incident(incident_id)
    members = await _members(services, tenant)
    if found is None or (members is not None and found.get("user_id") not in members):
        raise NotFoundError(f"no incident {incident_id!r}")
    personalities = services.personality
    reviewed = await review_false_positive(store, personalities, incident_id, persona=services.settings.persona)
    if reviewed is None:
        raise NotFoundError(f"no incident {incident_id!r}")
    return IncidentReview(
        incident=_incident(reviewed),
        offences_7d_now=int(reviewed["offences_7d_now"]),
        mood_restored=bool(reviewed["mood_restored"]),
    )


async def list_crises(
    services: Services, *, limit: int, user_id: str | None, tenant: str | None = None, cursor: str | None = None
) -> CrisisList:
    """Crisis messages, newest first (of one ``tenant``'s users if given), a page at a time; never their text."""
    raw = await SecurityStore(services.redis).crises(limit=CRISES_MAX, user_id=user_id)
    raw, next_cursor = await _tenant_page(services, raw, tenant=tenant, limit=limit, cursor=cursor)
    return CrisisList(
        next_cursor=next_cursor,
        crises=[
            CrisisIncident(
                id=item["id"],
                user_id=item["user_id"],
                conversation_id=item.get("conversation_id", ""),
                memory_id=item.get("memory_id", ""),
                kind=item["kind"],
                score=float(item["score"]),
                source=item.get("source", ""),
                detected_at=float(item["detected_at"]),
            )
            for item in raw
        ],
    )


async def system_stats(services: Services, *, tenant: str | None = None) -> SystemStats:
    """Users, memories, activity, queues, workers, incidents and crises (of one ``tenant``'s users if given)."""
    users = await asyncio.to_thread(services.long_term.list_users, tenant=tenant)
    counts = await asyncio.gather(*(asyncio.to_thread(services.long_term.count, user) for user in users))
    last_message = await services.short_term.users_last_message()
    members = set(users) if tenant is not None else None
    day_ago = time.time() - 86_400
    active = [u for u, at in last_message.items() if at >= day_ago and (members is None or u in members)]
    queues = {name: await queue_named(services, name).backlog() for name in QUEUES}
    beats = await queue_named(services, "association").workers()
    security = SecurityStore(services.redis)
    if members is None:
        incidents = int(await services.redis.xlen(INCIDENTS_STREAM))
    else:
        incidents = sum(1 for item in await security.incidents(limit=INCIDENTS_MAX) if item.get("user_id") in members)
    return SystemStats(
        users=len(users),
        memories=sum(counts),
        active_users_24h=len(active),
        queues=queues,
        workers_alive=sum(1 for beat in beats.values() if beat.get("alive")),
        incidents=incidents,
        crises=await security.crisis_counts(),
    )


async def cleanup_everyone(services: Services, *, retention_days: float | None) -> SystemCleanup:
    """Remove every user's processed raw transcripts older than the retention (queued ones stay)."""
    days = services.settings.raw_retention_days if retention_days is None else retention_days
    removed = await cleanup_raw(services.redis, services.links, retention_days=days)
    return SystemCleanup(removed_raw_transcripts=removed, retention_days=days)
