"""Reflection, its results and outreach controls for the REST app.

What ``companion reflect``, ``conflicts``, ``archive``, ``prefs`` and ``proactive`` do, over the app's services and
compiled graphs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from app.pagination import keyset_page
from app.schemas import (
    ArchivedMemory,
    ArchiveList,
    ConflictList,
    ConflictUndone,
    InsightReports,
    InsightsReport,
    OutreachPreferences,
    OutreachPreferencesUpdate,
    ProactiveDecision,
    ReflectionReport,
    Restored,
)
from companion.services import Services
from graphs.proactive import decision_summary, run_proactive
from graphs.reflection import archive_store, run_reflection
from memory.association_queue import AssociationQueue
from memory.outreach import OutreachStore
from nodes.reflection import REPORT_KEYS
from tools import reflection_actions

Graph = CompiledStateGraph[Any, Any, Any, Any]


async def reflect(
    services: Services, graph: Graph, user_id: str, *, tasks: list[str] | None, now: float | None
) -> ReflectionReport:
    """Run reflection for the user now, holding the user's association lock (409 while a worker holds it)."""
    await services.short_term.admit(user_id)  # a heavy write: it counts against the user's rate limit
    state = await run_reflection(
        graph,
        user_id=user_id,
        now=now,
        tasks=tasks,
        persona=services.settings.persona,
        lock=AssociationQueue(services.redis),
        lock_seconds=services.settings.association_lock_seconds,
    )
    return ReflectionReport.model_validate({"user_id": user_id, **{k: state[k] for k in REPORT_KEYS if k in state}})


async def conflicts(services: Services, user_id: str, *, limit: int = 100, cursor: str | None = None) -> ConflictList:
    """Recorded conflicts with their resolutions, newest first, a page at a time; and the questions waiting."""
    log = services.reflection_log
    found, questions = await asyncio.gather(
        asyncio.to_thread(reflection_actions.conflicts, log, user_id),
        asyncio.to_thread(reflection_actions.pending_questions, log, user_id),
    )
    page, next_cursor = keyset_page(
        found, key=lambda entry: (float(entry.get("at") or 0.0), str(entry["id"])), limit=limit, cursor=cursor
    )
    return ConflictList(user_id=user_id, conflicts=page, questions=questions, next_cursor=next_cursor)


async def insights(services: Services, user_id: str, *, limit: int = 100, cursor: str | None = None) -> InsightReports:
    """The insight reports of the days reflection ran for the user, newest first, a page at a time."""
    found = await asyncio.to_thread(reflection_actions.insight_reports, services.reflection_log, user_id)
    # One report per local day (its log id is the day), so the day orders them totally.
    page, next_cursor = keyset_page(found, key=lambda report: (str(report["day"]),), limit=limit, cursor=cursor)
    reports = [InsightsReport.model_validate(report) for report in page]
    return InsightReports(user_id=user_id, reports=reports, next_cursor=next_cursor)


async def undo_conflict(services: Services, user_id: str, conflict_id: str) -> ConflictUndone:
    """Revert one resolution (404 for an unknown conflict, 409 for one already reverted)."""
    log = services.reflection_log
    undone = await asyncio.to_thread(
        reflection_actions.undo_conflict, services.long_term, log, user_id, conflict_id, now=time.time()
    )
    return ConflictUndone.model_validate(undone)


async def archived(services: Services, user_id: str, *, limit: int = 100, cursor: str | None = None) -> ArchiveList:
    """The user's archived memories (the forgetting pass moved them out of recall), newest first, a page at a time."""
    records = await asyncio.to_thread(archive_store(services.long_term).list_memories, user_id, limit=1_000_000)
    page, next_cursor = keyset_page(records, key=lambda r: (r.created_at, r.id), limit=limit, cursor=cursor)
    rows = [ArchivedMemory(id=r.id, text=r.text, created_at=r.created_at, retention=r.retention) for r in page]
    return ArchiveList(user_id=user_id, archived=rows, next_cursor=next_cursor)


async def restore(services: Services, user_id: str, memory_id: str) -> Restored:
    """Bring one archived memory back into recall."""
    archive, log = archive_store(services.long_term), services.reflection_log
    result = await asyncio.to_thread(
        reflection_actions.restore_memory, services.long_term, archive, log, user_id, memory_id, now=time.time()
    )
    return Restored.model_validate(result)


async def preferences(services: Services, user_id: str) -> OutreachPreferences:
    """The user's outreach preferences."""
    return OutreachPreferences.model_validate((await OutreachStore(services.redis).prefs(user_id)).to_dict())


async def update_preferences(
    services: Services, user_id: str, update: OutreachPreferencesUpdate
) -> OutreachPreferences:
    """Change some outreach preferences; returns them all."""
    quiet = None
    if update.quiet_hours is not None:
        start, end = update.quiet_hours.split("-")
        quiet = (int(start), int(end))
    prefs = await OutreachStore(services.redis).set_prefs(
        user_id, timezone=update.timezone, quiet_hours=quiet, opt_out=update.opt_out
    )
    return OutreachPreferences.model_validate(prefs.to_dict())


async def decline(services: Services, user_id: str) -> OutreachPreferences:
    """Record that the user declined an outreach ("not now"): the engine backs off for a while."""
    store = OutreachStore(services.redis)
    await store.record_decline(user_id, now=time.time())
    return OutreachPreferences.model_validate((await store.prefs(user_id)).to_dict())


async def proactive(
    services: Services, graph: Graph, user_id: str, *, dry_run: bool, now: float | None
) -> ProactiveDecision:
    """One proactive decision for the user: scored and explained; queued for delivery unless ``dry_run``."""
    state = await run_proactive(graph, user_id=user_id, now=now, dry_run=dry_run, persona=services.settings.persona)
    return ProactiveDecision(user_id=user_id, dry_run=dry_run, decision=decision_summary(user_id, state))
