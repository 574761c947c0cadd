"""Admin: users and security incidents (admin key only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import AdminDep, ServicesDep
from app.errors import AUTH, BAD_INPUT, UNAVAILABLE, Responses
from app.schemas import IncidentList, UserList
from app.services import admin as admin_service
from memory.records import USER_ID_PATTERN

router = APIRouter(prefix="/v1/admin", tags=["admin"])

ERRORS: Responses = {**BAD_INPUT, **AUTH, **UNAVAILABLE}


@router.get("/users", response_model=UserList, responses=ERRORS)
async def list_users(admin: AdminDep, services: ServicesDep) -> UserList:
    """Every user with long-term memories (a tenant admin key: its tenant's users only)."""
    return await admin_service.list_users(services, tenant=admin.tenant)


@router.get("/incidents", response_model=IncidentList, responses=ERRORS)
async def list_incidents(
    admin: AdminDep,
    services: ServicesDep,
    user_id: Annotated[
        str | None, Query(min_length=1, max_length=128, pattern=USER_ID_PATTERN.pattern, description="One user only")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> IncidentList:
    """Detected injection attempts, newest first (a tenant admin key: of its tenant's users only)."""
    return await admin_service.list_incidents(services, limit=limit, user_id=user_id, tenant=admin.tenant)
