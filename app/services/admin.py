"""Admin views: users with memories and security incidents."""

from __future__ import annotations

import asyncio

from app.schemas import Incident, IncidentList, UserList
from companion.services import Services
from memory.security import INCIDENTS_MAX, SecurityStore


async def list_users(services: Services, *, tenant: str | None = None) -> UserList:
    """Every user with a long-term collection (of one ``tenant`` if given)."""
    users = await asyncio.to_thread(services.long_term.list_users, tenant=tenant)
    return UserList(users=users, total=len(users))


async def list_incidents(
    services: Services, *, limit: int, user_id: str | None, tenant: str | None = None
) -> IncidentList:
    """Detected injection attempts, newest first (of one ``tenant``'s users if given)."""
    raw = await SecurityStore(services.redis).incidents(limit=INCIDENTS_MAX if tenant else limit, user_id=user_id)
    if tenant is not None:
        members = set(await asyncio.to_thread(services.long_term.list_users, tenant=tenant))
        raw = [item for item in raw if item.get("user_id") in members][:limit]
    return IncidentList(
        incidents=[
            Incident(
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
            )
            for item in raw
        ]
    )
