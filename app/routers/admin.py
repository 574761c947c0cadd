"""Admin: users and security incidents (admin key only)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import AdminDep, ServicesDep
from app.errors import AUTH, BAD_INPUT, UNAVAILABLE, Responses
from app.schemas import Incident, IncidentList, UserList
from memory.records import USER_ID_PATTERN
from memory.security import SecurityStore

router = APIRouter(prefix="/v1/admin", tags=["admin"])

ERRORS: Responses = {**BAD_INPUT, **AUTH, **UNAVAILABLE}


@router.get("/users", response_model=UserList, responses=ERRORS)
async def list_users(admin: AdminDep, services: ServicesDep) -> UserList:
    """Every user with long-term memories."""
    users = await asyncio.to_thread(services.long_term.list_users)
    return UserList(users=users, total=len(users))


@router.get("/incidents", response_model=IncidentList, responses=ERRORS)
async def list_incidents(
    admin: AdminDep,
    services: ServicesDep,
    user_id: Annotated[
        str | None, Query(min_length=1, max_length=128, pattern=USER_ID_PATTERN.pattern, description="One user only")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> IncidentList:
    """Detected injection attempts, newest first."""
    raw = await SecurityStore(services.redis).incidents(limit=limit, user_id=user_id)
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
