"""Background work: the association/ingestion worker and the scheduler, as processes or inside a server.

``companion worker`` and ``companion scheduler`` run one each until stopped. ``companion serve`` and the bots run
both inside their own process by default (``background_work``), so a single command turns chat messages into
associations, ingested sessions into memories, and runs reflection and outreach on schedule.
``COMPANION_BACKGROUND=false`` (or ``--no-background``) turns that off where the worker and the scheduler run as
processes of their own. Running several at once on one Redis is safe: the consumer group hands each queued entry to
one worker, a per-user lock keeps two workers off one user's memories, and each scheduled job takes a Redis lock,
so it runs once however many schedulers fire it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from companion.runtime.ingest import cleanup_raw, cleanup_sessions, requeue_lost_submissions
from companion.runtime.scheduler import build_runner, run_scheduler
from companion.runtime.worker import AssociationWorker, build_worker, requeue_pending, run_scheduled
from memory.association_queue import AssociationQueue

if TYPE_CHECKING:
    from companion.services import Services

logger = logging.getLogger(__name__)

#: How long a stopping server waits for a tick in progress before cancelling it; its entries stay pending and the
#: next worker takes them over (nothing is acknowledged before its effects are written).
STOP_GRACE_SECONDS = 10.0


async def run_worker(
    services: Services,
    *,
    worker: AssociationWorker | None = None,
    interval: float | None = None,
    retention_days: float | None = None,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Run ``worker`` (default: one over ``services``) every ``interval`` seconds (default: the setting) until stopped.

    Beside the queue it sweeps for messages still marked for association and for stored transcripts not yet
    processed that no stream holds (Redis lost them), and removes raw transcripts older than ``retention_days``
    (default: the setting) and session summaries older than ``COMPANION_SESSION_RETENTION_DAYS`` every hour.
    """
    settings = services.settings
    retention = settings.raw_retention_days if retention_days is None else retention_days
    queue, links = AssociationQueue(services.redis), services.links

    async def clean() -> None:
        await cleanup_raw(services.redis, links, retention_days=retention)
        await cleanup_sessions(services.redis, links, retention_days=settings.session_retention_days)

    async def sweep() -> int:
        messages = await requeue_pending(queue, services.long_term)
        return messages + await requeue_lost_submissions(services.redis, links, services.long_term)

    await run_scheduled(
        worker or build_worker(services),
        interval=settings.association_interval_seconds if interval is None else interval,
        cleanup=clean,
        sweep=sweep,
        stop=stop,
        handle_signals=handle_signals,
    )


@contextlib.asynccontextmanager
async def background_work(services: Services, *, enabled: bool | None = None) -> AsyncIterator[bool]:
    """Run the worker and the scheduler as tasks of this process while the block runs; yields whether they run.

    ``enabled`` defaults to the ``background`` setting. The host keeps its own signal handling: the block's exit
    stops both. A task that fails is logged and the host goes on serving (``/v1/processing`` then reports the worker
    as not alive, and the queue keeps everything for the next worker).
    """
    if not (services.settings.background if enabled is None else enabled):
        yield False
        return
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_worker(services, stop=stop, handle_signals=False), name="association-worker"),
        asyncio.create_task(run_scheduler(build_runner(services), stop=stop, handle_signals=False), name="scheduler"),
    ]
    for task in tasks:
        task.add_done_callback(_log_failure)
    logger.info(
        "background: association worker every %gs and scheduler running in this process",
        services.settings.association_interval_seconds,
    )
    try:
        yield True
    finally:
        stop.set()
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        logger.info("background: stopped")


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("background: %s stopped: %s", task.get_name(), task.exception(), exc_info=task.exception())
