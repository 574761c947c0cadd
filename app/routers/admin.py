"""Admin: users and security incidents (admin key only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.deps import AdminDep, OperatorDep, ServicesDep
from app.errors import NOT_FOUND, ROUTE_ERRORS
from app.pagination import CursorQuery, PageQuery, PageSize
from app.schemas import CleanupRequest, CrisisList, IncidentList, IncidentReview, SystemCleanup, SystemStats, UserList
from app.services import admin as admin_service
from memory.records import USER_ID_PATTERN

router = APIRouter(prefix="/v1/admin", tags=["admin"])

OneUserQuery = Annotated[
    str | None, Query(min_length=1, max_length=128, pattern=USER_ID_PATTERN.pattern, description="One user only")
]


@router.get("/users", response_model=UserList, responses=ROUTE_ERRORS)
async def list_users(
    admin: AdminDep,
    services: ServicesDep,
    limit: PageSize = 1000,
    cursor: CursorQuery = None,
) -> UserList:
    """Users with long-term memories, by id (a tenant admin key: its tenant's users only)."""
    return await admin_service.list_users(services, limit=limit, cursor=cursor, tenant=admin.tenant)


@router.get("/incidents", response_model=IncidentList, responses=ROUTE_ERRORS)
async def list_incidents(
    *,
    admin: AdminDep,
    services: ServicesDep,
    user_id: OneUserQuery = None,
    page: PageQuery,
) -> IncidentList:
    """Detected injection attempts, newest first (a tenant admin key: of its tenant's users only)."""
    return await admin_service.list_incidents(
        services, limit=page.limit, user_id=user_id, tenant=admin.tenant, cursor=page.cursor
    )


@router.post(
    "/incidents/{incident_id}/false-positive", response_model=IncidentReview, responses={**ROUTE_ERRORS, **NOT_FOUND}
)
async def mark_false_positive(
    admin: AdminDep,
    services: ServicesDep,
    incident_id: Annotated[str, Path(pattern=r"^[0-9]{1,20}-[0-9]{1,20}$", description="The incident's id")],
) -> IncidentReview:
    """Mark an incident a false positive: its offence and mood penalty are taken back, a cooldown or block lifted."""
    return await admin_service.mark_false_positive(services, incident_id, tenant=admin.tenant)


@router.get("/crises", response_model=CrisisList, responses=ROUTE_ERRORS)
async def list_crises(
    *,
    admin: AdminDep,
    services: ServicesDep,
    user_id: OneUserQuery = None,
    page: PageQuery,
) -> CrisisList:
    """Messages flagged as a crisis, newest first, without their text (a tenant admin key: its tenant's users)."""
    return await admin_service.list_crises(
        services, limit=page.limit, user_id=user_id, tenant=admin.tenant, cursor=page.cursor
    )


@router.get("/stats", response_model=SystemStats, responses=ROUTE_ERRORS)
async def stats(admin: AdminDep, services: ServicesDep) -> SystemStats:
    """Users, memories, activity in the last day, the queues, live workers, incidents and crises."""
    return await admin_service.system_stats(services, tenant=admin.tenant)


@router.post("/cleanup", response_model=SystemCleanup, responses=ROUTE_ERRORS)
async def cleanup(admin: OperatorDep, services: ServicesDep, body: CleanupRequest) -> SystemCleanup:
    """Remove every user's processed raw transcripts older than the retention (operator key: it spans tenants)."""
    return await admin_service.cleanup_everyone(services, retention_days=body.retention_days)
