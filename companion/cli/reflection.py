"""The reflection and outreach commands of ``companion``.

reflect, insights, conflicts, archive, proactive, prefs and scheduler; their usage is in ``companion/cli/main.py``,
where argparse defines them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape

from companion.cli.arguments import user_command
from companion.cli.output import emit
from companion.core.errors import InvalidInputError
from companion.core.settings import Settings

console = Console()


def parse_time(text: str | None) -> float | None:
    """``--now``: epoch seconds or an ISO 8601 time (UTC when it has no offset)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"invalid time {text!r}: use ISO 8601 (2026-01-05T03:00+01:00) or epoch seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_quiet_hours(text: str | None) -> tuple[int, int] | None:
    """``--quiet-hours 22-8``."""
    if text is None:
        return None
    try:
        start, end = (int(part) for part in text.split("-"))
    except ValueError:
        raise InvalidInputError(f"invalid quiet hours {text!r}: use START-END in local hours, e.g. 22-8") from None
    return start, end


def _print(data: Any, as_json: bool) -> None:
    emit(data, as_json=as_json)


def reflect_command(args: argparse.Namespace, settings: Settings) -> int:
    """``companion reflect``: one reflection run for one user, with its report."""
    from memory.records import validate_user_id

    validate_user_id(args.user)
    now = parse_time(args.now)
    tasks = [task.strip() for task in args.tasks.split(",")] if args.tasks else None
    return asyncio.run(_reflect(args, settings, now, tasks))


async def _reflect(args: argparse.Namespace, settings: Settings, now: float | None, tasks: list[str] | None) -> int:
    from companion.services import open_services
    from graphs.reflection import build_graph_from_services, run_reflection
    from memory.association_queue import AssociationQueue
    from nodes.reflection import REPORT_KEYS

    async with open_services(settings) as services:
        graph = build_graph_from_services(services)
        with console.status(f"reflecting on {escape(args.user)}'s memories", spinner="dots"):
            state = await run_reflection(
                graph,
                user_id=args.user,
                now=now,
                tasks=tasks,
                persona=settings.persona,
                lock=AssociationQueue(services.redis),
                lock_seconds=settings.association_lock_seconds,
            )
    data = {"user": args.user, **{key: state[key] for key in REPORT_KEYS if key in state}}
    if not args.json and "insights" in data:  # one finding a line reads better as a list than as one long value
        data["insights"] = {**data["insights"], "report": data["insights"]["report"].splitlines()}
    _print(data, args.json)
    return 0


async def _insights(args: argparse.Namespace, settings: Settings) -> int:
    """``companion insights``: what reflection noticed about a user, one report per local day, newest first."""
    from companion.services import open_services
    from tools.reflection_actions import insight_reports

    async with open_services(settings) as services:
        reports = insight_reports(services.reflection_log, args.user)[: args.limit]
    if args.json:
        _print({"user": args.user, "reports": reports}, True)
        return 0
    if not reports:
        console.print(f"no insight reports for {escape(args.user)} yet (reflection's insights task writes them)")
    for report in reports:  # the report as a person reads it, then the insights stored as memories
        console.print(f"[bold]{escape(report['day'])}[/] ({escape(report['timezone'])}, {escape(report['reporter'])})")
        console.print(escape(report["report"]))
        for insight in report["insights"]:
            console.print(f"  {escape(insight['id'])} [{escape(insight['sensitivity'])}]: {escape(insight['text'])}")
    return 0


insights_command = user_command(_insights)


async def _conflicts(args: argparse.Namespace, settings: Settings) -> int:
    """``companion conflicts``: recorded conflicts and their resolutions; ``--undo`` reverts one."""
    from companion.services import open_services
    from tools.reflection_actions import conflicts, pending_questions, undo_conflict

    async with open_services(settings) as services:
        log = services.reflection_log
        if args.undo:
            _print(undo_conflict(services.long_term, log, args.user, args.undo, now=time.time()), args.json)
            return 0
        data = {
            "user": args.user,
            "conflicts": conflicts(log, args.user),
            "questions": pending_questions(log, args.user),
        }
        _print(data, args.json)
    return 0


conflicts_command = user_command(_conflicts)


async def _archive(args: argparse.Namespace, settings: Settings) -> int:
    """``companion archive``: faded memories; ``--restore`` brings one back."""
    from companion.services import open_services
    from graphs.reflection import archive_store
    from tools.reflection_actions import restore_memory

    async with open_services(settings) as services:
        archive = archive_store(services.long_term)
        log = services.reflection_log
        if args.restore:
            result = restore_memory(services.long_term, archive, log, args.user, args.restore, now=time.time())
            _print(result, args.json)
            return 0
        records = archive.list_memories(args.user, limit=1000)
        rows = [{"id": r.id, "text": r.text, "created_at": r.created_at, "retention": r.retention} for r in records]
        _print({"user": args.user, "archived": rows}, args.json)
    return 0


archive_command = user_command(_archive)


def proactive_command(args: argparse.Namespace, settings: Settings) -> int:
    """``companion proactive``: one proactive pass (``--dry-run``: scores and reasons, nothing sent)."""
    from memory.records import validate_user_id

    if args.user:
        validate_user_id(args.user)
    now = parse_time(args.now)
    return asyncio.run(_proactive(args, settings, now))


async def _proactive(args: argparse.Namespace, settings: Settings, now: float | None) -> int:
    from companion.services import open_services
    from graphs.proactive import build_graph_from_services, run_proactive_pass

    async with open_services(settings) as services:
        users = [args.user] if args.user else sorted(await services.short_term.users_last_message())
        graph = build_graph_from_services(services)
        decisions = await run_proactive_pass(graph, users, now=now, dry_run=args.dry_run, persona=settings.persona)
    _print({"dry_run": args.dry_run, "decisions": decisions}, args.json)
    return 0


def prefs_command(args: argparse.Namespace, settings: Settings) -> int:
    """``companion prefs``: a user's time zone, quiet hours and outreach opt-out; ``--decline`` records a "not now"."""
    from memory.outreach import validate_timezone
    from memory.records import validate_user_id

    validate_user_id(args.user)
    if args.timezone:
        validate_timezone(args.timezone)
    quiet = parse_quiet_hours(args.quiet_hours)
    return asyncio.run(_prefs(args, settings, quiet))


async def _prefs(args: argparse.Namespace, settings: Settings, quiet: tuple[int, int] | None) -> int:
    from redis.asyncio import Redis

    from companion.services import check_redis, ensure_data_dir, resolve_redis_url
    from memory.outreach import OutreachStore

    opt_out = True if args.opt_out else False if args.opt_in else None
    ensure_data_dir(settings.data_dir)
    url, _ = resolve_redis_url(settings)  # only Redis: no need to load the embedder or open Chroma
    check_redis(url)
    redis = Redis.from_url(url, socket_connect_timeout=3)
    try:
        store = OutreachStore(redis)
        prefs = await store.set_prefs(args.user, timezone=args.timezone, quiet_hours=quiet, opt_out=opt_out)
        if args.decline:
            await store.record_decline(args.user, now=time.time())
    finally:
        await redis.aclose()
    _print({"user": args.user, **prefs.to_dict(), **({"declined": True} if args.decline else {})}, args.json)
    return 0


def scheduler_command(args: argparse.Namespace, settings: Settings) -> int:
    """``companion scheduler``: run the reflection, forgetting, needs and proactive jobs until stopped.

    Each firing that ran something prints one line saying what (the runtime's INFO log lines).
    """
    logging.getLogger("companion.runtime").setLevel(logging.DEBUG if args.debug else logging.INFO)
    return asyncio.run(_scheduler(settings))


async def _scheduler(settings: Settings) -> int:
    from companion.runtime.scheduler import build_runner, run_scheduler
    from companion.services import open_services

    async with open_services(settings) as services:
        console.print(
            "[dim]scheduler running: reflection 03:00, forgetting 04:00 (user time), proactive every 5 "
            "minutes. Ctrl-C to stop.[/]"
        )
        await run_scheduler(build_runner(services))
    return 0
