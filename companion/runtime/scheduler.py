"""``companion scheduler``: reflection, forgetting, needs decay and proactive outreach on their schedules.

Schedules (design seed 003), all in the user's time zone (``companion prefs --timezone``, default UTC):

- nightly reflection (consolidate, conflicts, insights, personality) once a local day, from 03:00
- forgetting once a local day, from 04:00
- needs decay (the personality engine's elapsed-time update) every hour
- proactive outreach every 5 minutes

APScheduler fires :meth:`JobRunner.due` every 5 minutes (and the hourly needs job on the hour); each firing looks
at every user and runs what is due. A user's run is *due* when its local time has passed the job's hour and the job
has not completed for that local date. Two things keep several schedulers (or a restarted one) from doing a job
twice:

- a Redis lock per job run (``SET key NX PX``: ``companion:lock:<job>:{<user>}:<local date>``; proactive passes
  lock ``companion:lock:proactive:<5-minute slot>``), so only one scheduler runs it;
- a completion mark (``companion:done:<job>:{<user>}`` = local date) written only after the run finished, so a run
  that died half-way is picked up again on the next firing (every write of a run is idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from redis.exceptions import RedisError

from companion.core.errors import CompanionError
from companion.runtime.periodic import Job, run_jobs
from memory.keys import hash_tag
from memory.outreach import OutreachStore
from memory.short_term import ShortTermStore

logger = logging.getLogger(__name__)

PREFIX = "companion"
REFLECTION_HOUR, FORGETTING_HOUR = 3, 4
PROACTIVE_EVERY_SECONDS = 300
RUN_LOCK_MS = 30 * 60 * 1000
DONE_TTL_SECONDS = 7 * 86_400

#: Runs one user's job: ``(user_id, now) -> report``.
UserJob = Callable[[str, float], Awaitable[Mapping[str, Any]]]
#: Runs one proactive pass over users: ``(user_ids, now) -> decisions``.
PassJob = Callable[[list[str], float], Awaitable[list[dict[str, Any]]]]


def lock_key(job: str, scope: str) -> str:
    """The lock of one job run."""
    return f"{PREFIX}:lock:{job}:{scope}"


def done_key(job: str, user_id: str) -> str:
    """The completion mark of a daily job for one user (value: the local date it last completed)."""
    return f"{PREFIX}:done:{job}:{hash_tag(user_id)}"


@dataclass
class TickReport:
    """What one firing did."""

    ran: dict[str, list[str]] = field(default_factory=dict)  # job -> users
    skipped_locked: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, list[str]] = field(default_factory=dict)
    proactive: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


class JobRunner:
    """Decides what is due and runs it under Redis locks. The clock is passed in, so tests can replay weeks."""

    def __init__(
        self,
        *,
        redis: Redis,
        short_term: ShortTermStore,
        outreach: OutreachStore,
        reflect: UserJob,
        forget: UserJob,
        proactive: PassJob,
        needs: UserJob | None = None,
    ) -> None:
        self.redis = redis
        self.short_term = short_term
        self.outreach = outreach
        self.jobs: dict[str, tuple[int, UserJob]] = {
            "reflection": (REFLECTION_HOUR, reflect),
            "forgetting": (FORGETTING_HOUR, forget),
        }
        self.proactive = proactive
        self.needs = needs

    async def users(self) -> list[str]:
        """Every user who has sent a message."""
        return sorted(await self.short_term.users_last_message())

    async def due(self, now: float) -> TickReport:
        """Run every daily job that is due for some user, then a proactive pass (once per 5-minute slot)."""
        report = TickReport()
        users = await self.users()
        for user_id in users:
            zone = ZoneInfo((await self.outreach.prefs(user_id)).timezone)
            local = datetime.fromtimestamp(now, zone)
            for job, (hour, run) in self.jobs.items():
                if local.hour < hour:
                    continue
                await self._daily(report, job, user_id, local.date().isoformat(), run, now)
        slot = int(now // PROACTIVE_EVERY_SECONDS)
        if users and await self._lock("proactive", str(slot)):
            try:
                report.proactive = await self.proactive(users, now)
            except (CompanionError, RedisError) as exc:
                logger.warning("proactive pass failed, next slot retries: %s", exc)
                report.failed.setdefault("proactive", []).append("*")
        return report

    async def hourly(self, now: float) -> TickReport:
        """The hourly needs update (the personality engine's elapsed-time step), once per hour across schedulers."""
        report = TickReport()
        if self.needs is None:
            return report
        hour = int(now // 3600)
        for user_id in await self.users():
            if not await self._lock("needs", f"{hash_tag(user_id)}:{hour}"):
                report.skipped_locked.setdefault("needs", []).append(user_id)
                continue
            try:
                await self.needs(user_id, now)
                report.ran.setdefault("needs", []).append(user_id)
            except (CompanionError, RedisError) as exc:
                logger.warning("needs update failed for a user: %s", exc)
                report.failed.setdefault("needs", []).append(user_id)
        return report

    async def _daily(
        self, report: TickReport, job: str, user_id: str, local_date: str, run: UserJob, now: float
    ) -> None:
        done = await self.redis.get(done_key(job, user_id))
        if done is not None and (done.decode() if isinstance(done, bytes) else str(done)) == local_date:
            return
        scope = f"{hash_tag(user_id)}:{local_date}"
        if not await self._lock(job, scope):
            report.skipped_locked.setdefault(job, []).append(user_id)
            return
        try:
            await run(user_id, now)
        except (CompanionError, RedisError) as exc:  # a store or the model failed: the next firing tries again
            logger.warning("%s failed for a user; retrying on the next firing: %s", job, exc)
            report.failed.setdefault(job, []).append(user_id)
            await self.redis.delete(lock_key(job, scope))
            return
        await self.redis.set(done_key(job, user_id), local_date, ex=DONE_TTL_SECONDS)
        report.ran.setdefault(job, []).append(user_id)

    async def _lock(self, job: str, scope: str) -> bool:
        return bool(await self.redis.set(lock_key(job, scope), str(time.time()), nx=True, px=RUN_LOCK_MS))


async def run_scheduler(
    runner: JobRunner,
    *,
    stop: asyncio.Event | None = None,
    clock: Callable[[], float] = time.time,
    handle_signals: bool = True,
) -> None:
    """Fire the runner with APScheduler (every 5 minutes, and hourly for needs) until SIGINT/SIGTERM or ``stop``.

    ``handle_signals=False`` leaves SIGINT/SIGTERM to the host process (a server running this as a task).
    """

    async def fire() -> None:
        try:
            report = await runner.due(clock())
            if report.ran or report.proactive:
                logger.info("scheduler: %s", report.to_dict())
        except (CompanionError, RedisError, OSError) as exc:
            logger.warning("scheduler firing failed, next one retries: %s", exc)

    async def hourly() -> None:
        try:
            await runner.hourly(clock())
        except (CompanionError, RedisError, OSError) as exc:
            logger.warning("hourly needs update failed, next hour retries: %s", exc)

    jobs = [
        Job("due", fire, "cron", {"minute": "*/5", "next_run_time": datetime.now()}),
        Job("needs", hourly, "cron", {"minute": 0}),
    ]
    await run_jobs(jobs, stop=stop, handle_signals=handle_signals)


def build_runner(services: Any) -> JobRunner:
    """A ``JobRunner`` over a process's live services (the reflection and proactive graphs)."""
    from graphs import proactive as proactive_graph
    from graphs import reflection as reflection_graph
    from memory.association_queue import AssociationQueue
    from nodes.reflection import NIGHTLY_TASKS
    from tools.personality_time import advance_personality

    reflection = reflection_graph.build_graph_from_services(services)
    user_lock = AssociationQueue(services.redis)  # reflection never runs while association updates the user
    lock_seconds = services.settings.association_lock_seconds
    proactive = proactive_graph.build_graph_from_services(services)
    persona = services.settings.persona

    async def reflect(user_id: str, now: float) -> dict[str, Any]:
        return await reflection_graph.run_reflection(
            reflection,
            user_id=user_id,
            now=now,
            tasks=list(NIGHTLY_TASKS),
            persona=persona,
            lock=user_lock,
            lock_seconds=lock_seconds,
        )

    async def forget(user_id: str, now: float) -> dict[str, Any]:
        return await reflection_graph.run_reflection(
            reflection, user_id=user_id, now=now, tasks=["forget"], lock=user_lock, lock_seconds=lock_seconds
        )

    async def reach_out(user_ids: list[str], now: float) -> list[dict[str, Any]]:
        return await proactive_graph.run_proactive_pass(proactive, user_ids, now=now, persona=persona)

    store = services.personality

    async def needs(user_id: str, now: float) -> Mapping[str, Any]:
        return await advance_personality(store, user_id, persona, now)

    return JobRunner(
        redis=services.redis,
        short_term=services.short_term,
        outreach=OutreachStore(services.redis),
        reflect=reflect,
        forget=forget,
        proactive=reach_out,
        needs=needs,
    )
