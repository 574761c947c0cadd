"""Reflection and outreach controls of one user over REST.

Run reflection now, what it noticed (the insight reports), the conflicts it resolved (undo one), the memories it
archived (restore one), outreach preferences (time zone, quiet hours, opt-out), a "not now", and a proactive
decision on demand.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from langgraph.graph.state import CompiledStateGraph

from app.deps import AuthorizedUser, CallerDep, FullyClearedUser, ServicesDep, add_rate_limit_headers
from app.errors import BUSY, NOT_FOUND, RATE_LIMITED, ROUTE_ERRORS
from app.pagination import PageQuery
from app.queries import MemoryIdPath
from app.schemas import (
    ArchiveList,
    ConflictList,
    ConflictUndone,
    InsightReports,
    OutreachPreferences,
    OutreachPreferencesUpdate,
    ProactiveDecision,
    ProactiveRequest,
    ReflectionReport,
    ReflectRequest,
    Restored,
)
from app.services import reflection
from companion.core.errors import PermissionDeniedError

router = APIRouter(prefix="/v1/users/{user_id}", tags=["reflection and outreach"])

ConflictIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@-]+$")]
Graph = CompiledStateGraph[Any, Any, Any, Any]


def reflection_graph(request: Request) -> Graph:
    """The app's compiled reflection graph."""
    graph: Graph = request.app.state.reflection_graph
    return graph


def proactive_graph(request: Request) -> Graph:
    """The app's compiled proactive graph."""
    graph: Graph = request.app.state.proactive_graph
    return graph


@router.post("/reflect", response_model=ReflectionReport, responses=ROUTE_ERRORS | RATE_LIMITED | BUSY)
async def reflect(
    user_id: FullyClearedUser,
    body: ReflectRequest,
    services: ServicesDep,
    response: Response,
    graph: Annotated[Graph, Depends(reflection_graph)],
) -> ReflectionReport:
    """Run reflection for the user now, as the nightly job does (``forget`` on request).

    It waits for the association worker to let go of the user's memories (409 if it does not).
    """
    report = await reflection.reflect(
        services, graph, user_id, tasks=list(body.tasks) if body.tasks else None, now=body.now
    )
    await add_rate_limit_headers(response, services, user_id)
    return report


@router.get("/insights", response_model=InsightReports, responses=ROUTE_ERRORS)
async def insights(
    user_id: FullyClearedUser,
    services: ServicesDep,
    page: PageQuery,
) -> InsightReports:
    """What reflection noticed about the user, one report per local day, newest first (``limit=1``: the latest).

    Each report has the findings with their numbers (recurring topics, mood trend, changes) and the insights it
    stored as the companion's own observations; secret, ultrasecret and crisis messages are never read into one.
    """
    return await reflection.insights(services, user_id, limit=page.limit, cursor=page.cursor)


@router.get("/conflicts", response_model=ConflictList, responses=ROUTE_ERRORS)
async def conflicts(
    user_id: FullyClearedUser,
    services: ServicesDep,
    page: PageQuery,
) -> ConflictList:
    """Conflicts reflection found, newest first, each with its resolution; and the questions waiting."""
    return await reflection.conflicts(services, user_id, limit=page.limit, cursor=page.cursor)


@router.post("/conflicts/{conflict_id}/undo", response_model=ConflictUndone, responses=ROUTE_ERRORS | NOT_FOUND | BUSY)
async def undo_conflict(
    user_id: FullyClearedUser, conflict_id: ConflictIdPath, services: ServicesDep
) -> ConflictUndone:
    """Revert one resolution: the lowered memory gets its importance back, and later runs leave the pair alone."""
    return await reflection.undo_conflict(services, user_id, conflict_id)


@router.get("/archive", response_model=ArchiveList, responses=ROUTE_ERRORS)
async def archive(
    user_id: FullyClearedUser,
    services: ServicesDep,
    page: PageQuery,
) -> ArchiveList:
    """Memories the forgetting pass archived (out of recall, kept, restorable), newest first."""
    return await reflection.archived(services, user_id, limit=page.limit, cursor=page.cursor)


@router.post("/archive/{memory_id}/restore", response_model=Restored, responses=ROUTE_ERRORS | NOT_FOUND | BUSY)
async def restore(user_id: FullyClearedUser, memory_id: MemoryIdPath, services: ServicesDep) -> Restored:
    """Bring an archived memory back into recall, as if just recalled."""
    return await reflection.restore(services, user_id, memory_id)


@router.get("/outreach/preferences", response_model=OutreachPreferences, responses=ROUTE_ERRORS)
async def preferences(user_id: AuthorizedUser, services: ServicesDep) -> OutreachPreferences:
    """When the companion may reach out to the user (time zone, quiet hours), and whether at all."""
    return await reflection.preferences(services, user_id)


@router.patch("/outreach/preferences", response_model=OutreachPreferences, responses=ROUTE_ERRORS)
async def update_preferences(
    user_id: AuthorizedUser, body: OutreachPreferencesUpdate, services: ServicesDep
) -> OutreachPreferences:
    """Change some preferences (``opt_out: true`` stops all outreach); the others stay."""
    return await reflection.update_preferences(services, user_id, body)


@router.post("/outreach/decline", response_model=OutreachPreferences, responses=ROUTE_ERRORS)
async def decline(user_id: AuthorizedUser, services: ServicesDep) -> OutreachPreferences:
    """Record a "not now" from the user: the proactive engine backs off for a while."""
    return await reflection.decline(services, user_id)


@router.post("/proactive", response_model=ProactiveDecision, responses=ROUTE_ERRORS)
async def proactive(
    user_id: AuthorizedUser,
    body: ProactiveRequest,
    services: ServicesDep,
    caller: CallerDep,
    graph: Annotated[Graph, Depends(proactive_graph)],
) -> ProactiveDecision:
    """The proactive engine's decision for the user now, scored and explained.

    With ``dry_run: false`` (admin keys only) an outreach that scores high enough is composed and queued.
    """
    if not body.dry_run and not caller.is_admin:
        raise PermissionDeniedError("only an admin key may send outreach (dry_run: false)")
    return await reflection.proactive(services, graph, user_id, dry_run=body.dry_run, now=body.now)
