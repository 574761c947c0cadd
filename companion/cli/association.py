"""What ``companion worker``, ``companion ingest`` and ``companion memories tree|versions|relations`` do.

The argparse definitions live in ``companion/cli/main.py``; these functions receive the parsed arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.tree import Tree

from companion.cli.arguments import user_command
from companion.cli.output import emit, print_json
from companion.core.errors import InvalidInputError
from companion.core.settings import Settings

console = Console()
err_console = Console(stderr=True)


# -- worker ----------------------------------------------------------------------------------------------
def worker_command(args: argparse.Namespace, settings: Settings) -> int:
    """``companion worker``: each tick that processed something prints one line with its counts."""
    logging.getLogger("companion.runtime").setLevel(logging.DEBUG if args.debug else logging.INFO)
    return asyncio.run(_worker(args, settings))


async def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from companion.runtime.background import run_worker
    from companion.runtime.ingest import cleanup_raw, cleanup_sessions
    from companion.runtime.worker import build_worker
    from companion.services import open_services
    from memory.association_queue import AssociationQueue

    retention = args.retention_days if args.retention_days is not None else settings.raw_retention_days
    async with open_services(settings) as services:
        queue = AssociationQueue(services.redis)
        links = services.links
        if args.status:
            status = {"backlog": await queue.backlog(), "today": await queue.stats(), "workers": await queue.workers()}
            emit(status, as_json=args.json, title="association worker")
            return 0
        if args.dead_letters:
            rows = [{"id": e.entry_id, **e.fields} for e in await queue.dead_letters(count=1000)]
            if args.json:
                print_json({"dead_letters": rows})
            else:
                console.print(f"{len(rows)} dead letter(s) on {queue.dead_stream}")
                for row in rows:
                    line = f"{row['id']}  user={row.get('user_id', '?')}  memory={row.get('memory_id', '?')}"
                    console.print(f"{escape(line)}  [red]{escape(row.get('error', ''))}[/]", highlight=False)
            return 0
        if args.replay is not None:
            replayed = await queue.replay_dead(None if args.replay == "all" else [args.replay])
            if args.replay != "all" and replayed == 0:
                raise InvalidInputError(f"no dead letter {args.replay!r} (see companion worker --dead-letters)")
            print_json({"replayed": replayed}) if args.json else console.print(f"replayed {replayed} dead letter(s)")
            return 0
        if args.cleanup:
            removed = await cleanup_raw(services.redis, links, retention_days=retention)
            sessions = await cleanup_sessions(services.redis, links, retention_days=settings.session_retention_days)
            report = {
                "removed_raw_transcripts": removed,
                "retention_days": retention,
                "removed_session_summaries": sessions,
                "session_retention_days": settings.session_retention_days,
            }
            message = f"removed {removed} raw transcript(s) and {sessions} session summary(ies)"
            print_json(report) if args.json else console.print(message)
            return 0
        worker = build_worker(services)
        if args.run_once:
            result = await worker.drain()
            await worker.beat(ttl=60)
            emit(result.to_dict(), as_json=args.json, title="processed")
            return 0
        interval = args.interval if args.interval is not None else settings.association_interval_seconds
        if not args.json:
            console.print(f"[dim]worker {worker.consumer}: every {interval:g} s; Ctrl-C to stop[/]")
        await run_worker(services, worker=worker, interval=interval, retention_days=retention)
        return 0


# -- ingest ----------------------------------------------------------------------------------------------
def ingest_command(args: argparse.Namespace, settings: Settings) -> int:
    """``companion ingest``."""
    if args.status is None:
        if not (args.user and args.session and args.file):
            raise InvalidInputError("ingest needs --user, --session and a FILE (or --status SUBMISSION)")
        path = Path(args.file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
        return asyncio.run(_ingest(args, settings, path, text))
    return asyncio.run(_ingest_status(args, settings))


async def _ingest_status(args: argparse.Namespace, settings: Settings) -> int:
    from companion.runtime.ingest import submission_status
    from companion.services import open_services

    async with open_services(settings) as services:
        status = await submission_status(services.redis, args.status)
    emit(status, as_json=args.json, title=f"submission {args.status}")
    return 0


async def _ingest(args: argparse.Namespace, settings: Settings, path: Path, text: str) -> int:
    from companion.runtime.ingest import (
        Ingestor,
        check_transcript,
        parse_transcript,
        submission_status,
        submit_transcript,
    )
    from companion.services import open_services
    from memory.records import validate_conversation_id, validate_user_id

    validate_user_id(args.user)
    validate_conversation_id(args.session)
    total = text.count("\n") + (0 if text.endswith("\n") else 1)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=args.json,
        transient=False,
    ) as progress:
        reading = progress.add_task(f"reading {path.name}", total=max(total, 1))
        parsed = parse_transcript(
            text,
            max_chars=settings.max_message_chars,
            progress=lambda n: progress.update(reading, completed=n) if n % 200 == 0 or n == total else None,
        )
        progress.update(reading, completed=max(total, 1))
        check_transcript(parsed, skip_invalid=args.skip_invalid, source=str(path))  # before opening any store
        async with open_services(settings) as services:
            submission = await submit_transcript(
                services.redis,
                services.links,
                user_id=args.user,
                session_id=args.session,
                parsed=parsed,
                skip_invalid=args.skip_invalid,
                source=str(path),
            )
            report: dict[str, Any] = submission.to_dict()
            if args.wait:
                processing = progress.add_task("processing", total=submission.messages)
                ingestor = Ingestor.from_services(services)
                from companion.runtime.worker import build_worker

                worker = build_worker(services)
                worker.ingestor = ingestor.process_submissions
                done = 0
                while True:
                    result = await worker.tick()
                    done += result.processed
                    progress.update(processing, completed=min(done, submission.messages))
                    if result.processed == 0 and result.ingested == 0 and result.dead == 0:
                        break
                report = await submission_status(services.redis, submission.submission_id)
    if parsed.errors:
        from companion.runtime.ingest import describe_errors

        err_console.print(
            f"[yellow]skipped {len(parsed.errors)} malformed line(s):[/] {escape(describe_errors(parsed.errors))}",
            highlight=False,
        )
    if args.json:
        print_json(report)
    else:
        console.print(
            f"submission [bold]{report['submission_id']}[/]: {report['status']} "
            f"({report['messages']} messages of session {escape(args.session)})",
            highlight=False,
        )
        if report.get("error"):
            err_console.print(f"[red]{escape(str(report['error']))}[/]", highlight=False)
    return 0 if report["status"] != "failed" else 1


# -- memories tree / versions / relations -----------------------------------------------------------------
def _date(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidInputError(f"not an ISO 8601 date: {text!r} (e.g. 2026-11-25 or 2026-11-25T10:30)") from None


async def _memories(args: argparse.Namespace, settings: Settings) -> int:
    """``companion memories tree|versions|relations``."""
    from dataclasses import asdict

    from companion.runtime.ingest import memory_tree
    from companion.services import open_services

    async with open_services(settings) as services:
        links = services.links
        if args.memories_command == "tree":
            tree = memory_tree(
                services.long_term,
                links,
                args.user,
                session_id=args.session,
                memory_type=args.type,
                start=_date(args.since),
                end=_date(args.until),
                limit=args.limit,
            )
            print_json(tree) if args.json else _show_tree(tree)
            return 0
        if args.memories_command == "versions":
            rows = [asdict(v) for v in links.versions(args.user, args.memory)]
        else:
            rows = [asdict(r) for r in links.relations(args.user, args.memory)]
        if args.json:
            print_json({"user": args.user, "memory_id": args.memory, args.memories_command: rows})
        else:
            emit(rows, as_json=False, title=f"{args.memories_command} of memory {args.memory}")
        return 0


memories_command = user_command(_memories)


def _show_tree(tree: dict[str, Any]) -> None:
    root = Tree(f"[bold]{escape(tree['user_id'])}[/] ({tree['memory_type']})")
    for session in tree["sessions"]:
        branch = root.add(f"session [bold]{escape(session['session_id'])}[/]")
        if session.get("summary"):
            branch.add(f"[cyan]summary:[/] {escape(session['summary']['text'])}")
        for memory in session.get("memories", []):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(memory["created_at"]))
            node = branch.add(f"{when} [dim]{memory['kind']}[/] {escape(memory['text'])}")
            for derived in memory.get("derived", []):
                node.add(f"[green]memory v{derived['version']}:[/] {escape(derived['text'])}")
        for fact in session.get("facts", []):
            branch.add(f"[green]fact:[/] {escape(fact['text'])}")
        for raw in session.get("raw", []):
            branch.add(f"[dim]raw {raw['submission_id']} ({raw['lines']} lines)[/]")
    console.print(root)
