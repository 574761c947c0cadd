"""Periodic jobs of the long-running commands (the association worker, the scheduler), run with APScheduler."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from companion.runtime.signals import stop_on_signals


@dataclass(frozen=True, slots=True)
class Job:
    """``run`` fired by an APScheduler ``trigger`` (``"cron"`` or ``"interval"``) with that trigger's ``fields``.

    ``fields`` may also hold ``next_run_time`` to fire the first time at once rather than at the first tick.
    """

    id: str
    run: Callable[[], Awaitable[None]]
    trigger: str
    fields: dict[str, Any]


async def run_jobs(jobs: Iterable[Job], *, stop: asyncio.Event | None = None, handle_signals: bool = True) -> None:
    """Fire ``jobs`` until SIGINT/SIGTERM or ``stop`` is set.

    A job never runs twice at once, and the firings it missed while running collapse into one.
    ``handle_signals=False`` leaves SIGINT/SIGTERM to the host process (a server running this as a task).
    """
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    stop = stop or asyncio.Event()
    if handle_signals:
        stop_on_signals(stop)
    scheduler = AsyncIOScheduler()
    for job in jobs:
        scheduler.add_job(job.run, job.trigger, id=job.id, max_instances=1, coalesce=True, **job.fields)
    scheduler.start()
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
