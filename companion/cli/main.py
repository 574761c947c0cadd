"""The ``companion`` command.

    companion chat --user ID [--conversation ID] [--message TEXT] [--json] [--local]
    companion memories search --user ID --query TEXT [--k N] [--json]
    companion memories list --user ID [--limit N] [--json]
    companion memories tree --user ID [--session ID] [--type all|discrete|summary|raw] [--since D] [--until D]
    companion memories versions|relations --user ID --memory ID [--json]
    companion services start|stop|status [--json]
    companion bot discord|telegram [--no-sync] [--no-background]
    companion chats [--json]
    companion worker [--interval S] [--run-once] [--cleanup] [--status] [--dead-letters] [--replay ID|all]
    companion ingest --user ID --session ID FILE [--skip-invalid] [--wait] [--json] | --status SUBMISSION
    companion reflect --user ID [--now TIME] [--tasks LIST] [--json]
    companion insights --user ID [--limit N] [--json]
    companion conflicts --user ID [--undo CONFLICT_ID] [--json]
    companion archive --user ID [--restore MEMORY_ID] [--json]
    companion proactive [--dry-run] [--user ID] [--now TIME] [--json]
    companion prefs --user ID [--timezone TZ] [--quiet-hours HH-HH] [--opt-out | --opt-in] [--decline] [--json]
    companion scheduler
    companion detect --text TEXT [--json]
    companion personality show --user ID [--persona NAME] [--changes N] [--json]
    companion demo
    companion serve [--host H] [--port P] [--no-background]
    companion keys create (--user ID | --admin) [--tenant T] [--clearance LEVEL] [--name N] | list | revoke KEY_ID
    companion injection-check --text T [--json]
    companion incidents [--user ID] [--crises] [--json] | incidents false-positive INCIDENT_ID
    companion eval SUITE | --compare A.json B.json | --list

Errors a user can cause print one line on stderr and exit with the error's code (2 for bad input or
configuration, 3 when rate limited, 4 when a store is unreachable, 5 when the chat model fails);
``--debug`` shows tracebacks.

While ``companion serve`` runs on the same data dir, ``companion chat`` hands its turns to it over HTTP and prints
exactly what it would have printed running them itself, without loading the stores or the models (issue 22): it
finds the server through ``<data_dir>/serve.json``, which ``serve`` writes once it listens and removes when it
stops, and authenticates with the per-process token written there. When that file is missing or stale (its process
gone, nothing listening at its address, its token refused) or the server runs with other settings (persona, chat
model, stores), the turn runs in this process as before. ``--local`` runs it here anyway. The service's errors are
the same one-line errors with the same exit codes. See ``companion/cli/handoff.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from companion.cli.arguments import bounded, utc_day
from companion.cli.output import emit
from companion.core.errors import CompanionError, StoreUnavailableError

if TYPE_CHECKING:
    from companion.cli.handoff import LocalService
    from companion.core.settings import Settings

logger = logging.getLogger(__name__)
console = Console()
err_console = Console(stderr=True)


class _ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line on stderr, like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: <prog>: <message>`` and exit with code 2."""
        text = f"{self.prog}: {message}"
        err_console.print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)
        self.exit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="companion", description="An AI companion that remembers.")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", help="talk to the companion (one turn with --message, else interactive)")
    chat.add_argument("--user", required=True, help="user id")
    chat.add_argument("--conversation", default="default", help="conversation id (default: default)")
    chat.add_argument("--message", help="send one message and exit")
    chat.add_argument("--json", action="store_true", help="print one JSON object per turn")
    chat.add_argument(
        "--local",
        action="store_true",
        help="run the turns in this process even when `companion serve` runs on the same data dir "
        "(by default they are handed to it)",
    )

    memories = commands.add_parser("memories", help="inspect a user's long-term memories")
    memory_commands = memories.add_subparsers(dest="memories_command", required=True, metavar="ACTION")
    search = memory_commands.add_parser("search", help="memories relevant to a query (MMR)")
    search.add_argument("--user", required=True)
    search.add_argument("--query", required=True)
    search.add_argument("--k", type=_positive_int, default=5, help="how many (1-50, default 5)")
    search.add_argument("--json", action="store_true")
    listing = memory_commands.add_parser("list", help="memories, newest first")
    listing.add_argument("--user", required=True)
    listing.add_argument("--limit", type=_positive_int, default=50)
    listing.add_argument("--json", action="store_true")

    tree = memory_commands.add_parser("tree", help="session -> summary -> memories -> raw transcripts")
    tree.add_argument("--user", required=True)
    tree.add_argument("--session", help="one session only")
    tree.add_argument(
        "--type", choices=["all", "discrete", "summary", "raw"], default="all", help="which items (default all)"
    )
    tree.add_argument("--since", help="ISO date: only items created at or after it")
    tree.add_argument("--until", help="ISO date: only items created at or before it")
    tree.add_argument("--limit", type=_limit_1000, default=50, help="items per list (1-1000, default 50)")
    tree.add_argument("--json", action="store_true")
    for name, what in (("versions", "every version of a memory"), ("relations", "a memory's relations")):
        history = memory_commands.add_parser(name, help=what)
        history.add_argument("--user", required=True)
        history.add_argument("--memory", required=True, help="memory id")
        history.add_argument("--json", action="store_true")

    worker = commands.add_parser("worker", help="background association and ingestion (the association stream)")
    worker.add_argument("--interval", type=_seconds, help="seconds between runs (default 15)")
    worker.add_argument("--run-once", action="store_true", help="process what is queued now, then exit")
    worker.add_argument("--cleanup", action="store_true", help="remove expired raw transcripts, then exit")
    worker.add_argument(
        "--retention-days", type=_days, help="days processed raw transcripts are kept (default 30; 0: none)"
    )
    worker.add_argument("--status", action="store_true", help="backlog, today's stats and worker heartbeats")
    worker.add_argument("--dead-letters", action="store_true", help="list entries that failed every retry")
    worker.add_argument("--replay", metavar="ID|all", help="put a dead letter (or all) back on the queue")
    worker.add_argument("--json", action="store_true")

    ingest = commands.add_parser("ingest", help="queue a session transcript (JSON lines) for processing")
    ingest.add_argument("file", nargs="?", metavar="FILE", help='JSON lines: {"role": "user", "content": "..."}')
    ingest.add_argument("--user", help="user id")
    ingest.add_argument("--session", help="session id")
    ingest.add_argument("--skip-invalid", action="store_true", help="import the valid lines, report the others")
    ingest.add_argument("--wait", action="store_true", help="process it now instead of leaving it to the worker")
    ingest.add_argument("--status", metavar="SUBMISSION", help="show a submission's processing status")
    ingest.add_argument("--json", action="store_true")

    _reflection_parsers(commands)

    from companion.cli import api as api_cli

    services = commands.add_parser("services", help="the embedded Redis and shared Chroma server")
    services.add_argument("action", choices=["start", "stop", "status"])
    services.add_argument("--json", action="store_true")

    bot = commands.add_parser("bot", help="run the Discord or Telegram bot")
    bot.add_argument("platform", choices=["discord", "telegram"])
    bot.add_argument("--no-sync", action="store_true", help="Discord: do not publish the slash commands at start-up")
    bot.add_argument("--no-background", action="store_true", help=api_cli.NO_BACKGROUND_HELP)

    profile = commands.add_parser(
        "profile", help="a user's profile: the name they are called by, their language, analytics consent"
    )
    profile.add_argument("--user", required=True, help="the user id")
    profile.add_argument("--name", help="how the companion addresses them")
    profile.add_argument("--language", help="the language replies are written in: a code such as en, de or pt-BR")
    profile.add_argument(
        "--analytics-consent",
        choices=["yes", "no"],
        help="whether turns join the interaction log ('no' also deletes the log kept so far)",
    )
    profile.add_argument("--json", action="store_true")
    interactions = commands.add_parser(
        "interactions", help="a user's per-turn interaction log: mood before/after, response time (no message text)"
    )
    interactions.add_argument("--user", required=True, help="the user id")
    interactions.add_argument(
        "--limit", type=bounded(int, 1, 1000), default=20, help="how many, newest first (1-1000, default 20)"
    )
    interactions.add_argument("--json", action="store_true")
    chats = commands.add_parser("chats", help="every chat of the bots with activity level and health")
    chats.add_argument(
        "--day",
        type=utc_day,
        help="the daily report of one UTC day instead (YYYY-MM-DD, today or yesterday; the last 35 days are kept)",
    )
    chats.add_argument("--json", action="store_true")
    detect = commands.add_parser("detect", help="emotions, importance and category of a text (local detector)")
    detect.add_argument("--text", required=True, help="the message to perceive")
    detect.add_argument("--json", action="store_true")

    personality = commands.add_parser("personality", help="the companion's personality for one user")
    personality_commands = personality.add_subparsers(dest="personality_command", required=True, metavar="ACTION")
    show = personality_commands.add_parser("show", help="traits, mood with its recent causes, needs and quirks")
    show.add_argument("--user", required=True)
    show.add_argument("--persona", help="persona name (default: COMPANION_PERSONA)")
    show.add_argument("--changes", type=_positive_int, default=10, help="recent mood changes to show (1-50)")
    show.add_argument("--json", action="store_true")

    commands.add_parser("demo", help="a short scripted conversation that shows recall")

    api_cli.add_parsers(commands)
    from evals.cli import add_eval_arguments

    add_eval_arguments(commands.add_parser("eval", help="run an eval suite, or compare two results"))
    _finish(parser)
    return parser


#: Help of the options many commands share, for those that do not say more.
COMMON_HELP = {
    "--json": "print one JSON object instead of text",
    "--user": "user id",
    "--query": "what to look for",
    "--limit": "how many, at most",
    "action": "what to do",
    "platform": "which chat platform",
}
DEBUG_HELP = "show tracebacks and debug logs (accepted before or after the command)"


def _finish(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand its description and ``--debug``, and every argument its help, down the tree."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help for choice in action._choices_actions}
            for name, command in action.choices.items():
                command.description = command.description or summaries.get(name)
                command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
                _finish(command)
        elif action.help is None:
            key = action.option_strings[-1] if action.option_strings else action.dest
            action.help = COMMON_HELP.get(key)


def _reflection_parsers(commands: Any) -> None:
    """Reflection, outreach and scheduling commands (implemented in companion/cli/reflection.py)."""
    reflect = commands.add_parser("reflect", help="run reflection for one user now (consolidate, conflicts, ...)")
    reflect.add_argument("--user", required=True)
    reflect.add_argument("--now", help="the run's clock: ISO 8601 or epoch seconds (default: now)")
    reflect.add_argument(
        "--tasks", help="comma-separated: consolidate,conflicts,insights,personality,forget (default: nightly)"
    )
    reflect.add_argument("--json", action="store_true")
    insights = commands.add_parser(
        "insights", help="what reflection noticed about a user (topics, mood trend, changes), newest day first"
    )
    insights.add_argument("--user", required=True)
    insights.add_argument("--limit", type=_limit_1000, default=7, help="days' reports to show (default 7)")
    insights.add_argument("--json", action="store_true")
    conflicts = commands.add_parser("conflicts", help="conflicts reflection found, and how they were resolved")
    conflicts.add_argument("--user", required=True)
    conflicts.add_argument("--undo", metavar="CONFLICT_ID", help="revert one resolution")
    conflicts.add_argument("--json", action="store_true")
    archive = commands.add_parser("archive", help="memories that faded (archived by the forgetting pass)")
    archive.add_argument("--user", required=True)
    archive.add_argument("--restore", metavar="MEMORY_ID", help="bring one back into recall")
    archive.add_argument("--json", action="store_true")
    proactive = commands.add_parser("proactive", help="one proactive outreach pass over users (scores and reasons)")
    proactive.add_argument("--dry-run", action="store_true", help="score and compose, send nothing")
    proactive.add_argument("--user", help="one user only")
    proactive.add_argument("--now", help="the pass's clock: ISO 8601 or epoch seconds (default: now)")
    proactive.add_argument("--json", action="store_true")
    prefs = commands.add_parser("prefs", help="a user's time zone, quiet hours and outreach opt-out")
    prefs.add_argument("--user", required=True)
    prefs.add_argument("--timezone", help="IANA time zone, e.g. Europe/Paris")
    prefs.add_argument("--quiet-hours", help="local hours with no outreach, START-END (default 22-8)")
    opt = prefs.add_mutually_exclusive_group()
    opt.add_argument("--opt-out", action="store_true", help="never reach out to this user")
    opt.add_argument("--opt-in", action="store_true", help="allow outreach again")
    prefs.add_argument("--decline", action="store_true", help="record that the user declined an outreach")
    prefs.add_argument("--json", action="store_true")
    commands.add_parser("scheduler", help="run reflection (03:00), forgetting (04:00), needs and proactive jobs")


_positive_int = bounded(int, 1, 50)
_limit_1000 = bounded(int, 1, 1000)
_days = bounded(float, 0.0, 36_500.0, noun="a number")  # as the REST cleanup route takes it
_seconds = bounded(float, 0.0, 86_400.0, noun="a number", low_excluded=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``companion`` command (``argv`` defaults to the process's arguments)."""
    args = _parser().parse_args(argv)  # --help and usage errors end here, before any import they do not need
    code = _run(args)
    if argv is None and args.command in EXIT_AT_ONCE:  # the process is the command: nothing runs after it
        exit_at_once(code)
    return code


#: One-shot commands whose stores are all closed (their ``async with`` blocks ended) when they return.
EXIT_AT_ONCE = frozenset({"chat", "memories", "detect", "personality", "injection-check"})


def exit_at_once(code: int) -> None:
    """End the process with ``code`` now, skipping the interpreter's teardown, when nothing can still be pending.

    A process that imported Chroma, LangGraph and ONNX Runtime spends about 0.4 s tearing the interpreter down
    (freeing every module and object, finalizers, ``atexit`` hooks), none of which a finished command needs: by
    the time it returns, what it acknowledged is durable. Chroma committed each write to its SQLite log before
    ``add`` returned (the reply is printed after the turn's writes), Redis writes were awaited, the checkpointer's
    and the lexical index's SQLite transactions were committed, and the stores were closed. What could still be
    pending would run in another thread (a LangSmith tracer uploading runs, a thread pool's callbacks): with any
    thread besides this one alive, the process exits normally. Logs and output are flushed first; if that fails
    (a closed pipe), the process exits normally too, so the error is reported as usual.
    """
    if threading.active_count() > 1:
        return
    try:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command: its exit code, or the code of the ``CompanionError`` it raised."""
    from companion.core.logs import configure_logging
    from companion.core.settings import load_settings, unknown_variables

    level = logging.DEBUG if args.debug else logging.WARNING
    configure_logging(level, "text")
    try:
        settings = load_settings()
        if settings.log_format != "text":
            configure_logging(level, settings.log_format)
        for warning in unknown_variables(os.environ):
            err_console.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
        from companion.cli import api as api_cli

        handler = {
            "chat": _chat,
            "memories": _memories,
            "services": _services,
            "bot": _bot,
            "chats": _chats,
            "interactions": _interactions,
            "profile": _profile,
            "demo": _demo,
            "serve": api_cli.serve,
            "keys": api_cli.keys,
            "injection-check": api_cli.injection_check,
            "incidents": api_cli.incidents,
            "worker": _worker,
            "ingest": _ingest,
            "eval": _eval,
            "detect": _detect,
            "personality": _personality,
            **_reflection_handlers(),
        }[args.command]
        return handler(args, settings)
    except CompanionError as exc:
        if args.debug:
            raise
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


# -- chat --------------------------------------------------------------------------------------------------
#: One turn of a chat: the message in, the object ``chat --json`` prints out (``turn_summary``).
Turn = Callable[[str], Awaitable[dict[str, Any]]]


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from memory.records import validate_conversation_id, validate_message, validate_user_id

    validate_user_id(args.user)
    validate_conversation_id(args.conversation)
    if args.message is not None:
        validate_message(args.message, max_chars=settings.max_message_chars)
    if not args.local:
        from companion.cli.handoff import ServiceNotReachedError, find_service

        service = find_service(settings)
        if service is not None and (args.message is not None or service.answers()):
            try:
                return asyncio.run(_converse(args, _service_turn(service, args)))
            except ServiceNotReachedError as exc:  # raised before anything ran (one-shot only): run it here
                logger.debug("running the turn in this process: %s", exc)
    from companion.services import start_loading_models

    start_loading_models(settings)  # beside the imports of Chroma and LangGraph below, not after them
    return asyncio.run(_chat_async(args, settings))


def _service_turn(service: LocalService, args: argparse.Namespace) -> Turn:
    """A turn run by the ``companion serve`` of this data dir (``companion/cli/handoff.py``)."""
    from companion.cli.handoff import ServiceNotReachedError, response_as_state

    async def turn(message: str) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            response = await asyncio.to_thread(
                service.chat, user_id=args.user, conversation_id=args.conversation, message=message
            )
        except ServiceNotReachedError as exc:
            if args.message is not None:
                raise  # nothing ran: the one-shot chat runs its turn in-process
            raise StoreUnavailableError(
                f"the companion service at {service.url} is no longer there ({exc}); start `companion chat` again"
            ) from None
        return turn_summary(response_as_state(response), _ms_since(started))

    return turn


async def _chat_async(args: argparse.Namespace, settings: Settings) -> int:
    from companion.services import open_checkpointer, open_services
    from graphs.conversation import build_graph_from_services, run_turn

    async with open_services(settings) as services, open_checkpointer(settings, services=services) as checkpointer:
        graph = build_graph_from_services(services, checkpointer=checkpointer)

        async def turn(message: str) -> dict[str, Any]:
            started = time.perf_counter()
            state = await run_turn(
                graph, user_id=args.user, conversation_id=args.conversation, message=message, persona=settings.persona
            )
            return turn_summary(state, _ms_since(started))

        return await _converse(args, turn)


async def _converse(args: argparse.Namespace, turn: Turn) -> int:
    """The one turn of ``--message``, or turns read from stdin until an empty line; each printed as it ends."""

    async def say(message: str) -> None:
        summary = await turn(message)
        if args.json:
            print(json.dumps(summary, ensure_ascii=False))
        else:
            console.print(f"[bold magenta]companion:[/] {escape(summary['reply'])}", highlight=False)

    if args.message is not None:
        await say(args.message)
        return 0
    if not args.json:
        console.print(f"[dim]Talking as user [bold]{escape(args.user)}[/]. Empty line or Ctrl-D to stop.[/]")
    while True:
        try:
            line = await asyncio.to_thread(input, "" if args.json else "you: ")
        except EOFError:
            return 0
        if not line.strip() or line.strip() in {"/quit", "/exit"}:
            return 0
        try:
            await say(line)
        except CompanionError as exc:  # keep the session going after a bad message or a rate limit
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


def turn_summary(state: dict[str, Any], total_ms: float) -> dict[str, Any]:
    """The JSON object ``companion chat --json`` prints for one turn."""
    return {
        "reply": state.get("reply", ""),
        "responder": state.get("responder", ""),
        "memory_id": state.get("memory_id"),
        "context_source": state.get("context_source"),
        "short_term": state.get("short_term"),
        "memories": [
            {"id": m["id"], "text": m["text"], "score": m["score"], "similarity": m["similarity"]}
            for m in state.get("memories", [])
        ],
        "mood": state.get("mood"),
        "detection": state.get("detection"),
        "sensitivity": state.get("sensitivity"),
        "timings_ms": {**state.get("timings_ms", {}), "total": total_ms},
    }


# -- memories ----------------------------------------------------------------------------------------------
def _memories(args: argparse.Namespace, settings: Settings) -> int:
    from memory.records import validate_message, validate_user_id

    if args.memories_command in ("tree", "versions", "relations"):
        from companion.cli.association import memories_command

        return memories_command(args, settings)

    validate_user_id(args.user)
    if args.memories_command == "search":
        validate_message(args.query, max_chars=settings.max_message_chars)
    return asyncio.run(_memories_async(args, settings))


async def _memories_async(args: argparse.Namespace, settings: Settings) -> int:
    from companion.services import open_services
    from tools.recall import recall

    async with open_services(settings) as services:
        if args.memories_command == "search":
            found = recall(services.long_term, services.embedder, args.user, args.query.strip(), args.k)
            rows = [
                {
                    "id": s.candidate.id,
                    "text": s.candidate.text,
                    "score": round(s.score, 6),
                    "similarity": round(s.candidate.similarity, 6),
                }
                for s in found.selected
            ]
            if args.json:
                print(json.dumps({"user": args.user, "query": args.query, "memories": rows}, ensure_ascii=False))
            else:
                _table(f"memories of {args.user} for {args.query!r}", rows, ["score", "similarity", "text", "id"])
            return 0
        records = services.long_term.list_memories(args.user, limit=args.limit)
        total = services.long_term.count(args.user)
        if args.json:
            print(
                json.dumps(
                    {"user": args.user, "total": total, "memories": [r.to_dict() for r in records]}, ensure_ascii=False
                )
            )
        else:
            rows = [
                {
                    "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at)),
                    "kind": r.kind.value,
                    "text": r.text,
                    "id": r.id,
                }
                for r in records
            ]
            _table(f"{len(records)} of {total} memories of {args.user}", rows, ["created", "kind", "text", "id"])
        return 0


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(row[column]) for column in columns))
    console.print(table)


# -- services ----------------------------------------------------------------------------------------------
def _services(args: argparse.Namespace, settings: Settings) -> int:
    from companion.services import ensure_data_dir
    from memory.embedded import EmbeddedChromaServer, EmbeddedRedis

    ensure_data_dir(settings.data_dir)
    redis, chroma = EmbeddedRedis(settings.data_dir), EmbeddedChromaServer(settings.data_dir)
    if args.action == "start":
        if settings.redis_url is None:
            redis.ensure_running()
        if settings.chroma_url is None:
            chroma.ensure_running()
    elif args.action == "stop":
        redis.stop()
        chroma.stop()
    status = {
        "data_dir": str(settings.data_dir),
        "redis": {
            "url": settings.redis_url or redis.url,
            "embedded": settings.redis_url is None,
            "running": settings.redis_url is not None or redis.is_running(),
        },
        "chroma": {
            "url": settings.chroma_url or (chroma.url if chroma.is_running() else None),
            "embedded": settings.chroma_url is None,
            "shared_server_running": settings.chroma_url is None and chroma.is_running(),
            "path": str(settings.resolved_chroma_path),
        },
    }
    emit(status, as_json=args.json, title="services")
    return 0


# -- bots -------------------------------------------------------------------------------------------------
def _bot(args: argparse.Namespace, settings: Settings) -> int:
    from bots.commands import run_bot

    logging.getLogger().setLevel(logging.DEBUG if args.debug else logging.INFO)
    if args.no_background:
        settings = settings.model_copy(update={"background": False})
    return run_bot(args.platform, settings, sync_commands=not args.no_sync)


def _redis_only(settings: Settings) -> str:
    """The Redis URL of a command that needs nothing else (checked: a one-line error when it cannot be reached)."""
    from companion.services import check_redis, ensure_data_dir, resolve_redis_url

    ensure_data_dir(settings.data_dir)
    url, _ = resolve_redis_url(settings)
    check_redis(url)
    return url


def _profile(args: argparse.Namespace, settings: Settings) -> int:
    from redis.asyncio import Redis

    from memory.profiles import ProfileStore
    from memory.records import validate_user_id

    validate_user_id(args.user)
    url = _redis_only(settings)
    consent = None if args.analytics_consent is None else args.analytics_consent == "yes"

    async def change() -> dict[str, Any]:
        redis = Redis.from_url(url, socket_connect_timeout=3)
        try:
            store = ProfileStore(redis)
            found = await store.update(
                args.user, display_name=args.name, language=args.language, analytics_consent=consent
            )
            return {"user_id": args.user, **found.to_dict()}
        finally:
            await redis.aclose()

    emit(asyncio.run(change()), as_json=args.json, title=f"profile of {args.user}")
    return 0


def _interactions(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from redis.asyncio import Redis

    from memory.records import validate_user_id
    from memory.short_term import ShortTermStore, parsed_interaction

    validate_user_id(args.user)
    url = _redis_only(settings)

    async def read() -> list[dict[str, Any]]:
        redis = Redis.from_url(url, socket_connect_timeout=3)
        try:
            return [
                parsed_interaction(row) for row in await ShortTermStore(redis).interactions(args.user, limit=args.limit)
            ]
        finally:
            await redis.aclose()

    rows = asyncio.run(read())
    if args.json:
        print(json.dumps({"user_id": args.user, "interactions": rows}, ensure_ascii=False))
        return 0
    for row in rows:
        row["when"] = datetime.fromtimestamp(row["at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        row["pleasure"] = f"{row['pad_before'].get('pleasure', 0):+.2f} → {row['pad_after'].get('pleasure', 0):+.2f}"
    columns = ["when", "conversation_id", "emotion", "intensity", "pleasure", "mood_rule", "response_ms", "crisis"]
    _table(f"{len(rows)} interactions of {args.user}", rows, columns)
    return 0


def _chats(args: argparse.Namespace, settings: Settings) -> int:
    from bots.commands import chats_report

    report = asyncio.run(chats_report(settings, day=args.day))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    if args.day:
        columns = ["platform", "chat_id", "title", "activity", "messages", "replies", "skipped", "errors"]
        _table(f"{args.day}: {report['totals']['chats']} active chats", report["chats"], columns)
        return 0
    columns = ["platform", "chat_id", "title", "status", "activity", "health", "messages_24h", "replies_24h"]
    _table(f"{report['totals']['chats']} chats", report["chats"], columns)
    return 0


# -- worker and ingest (companion/cli/association.py) ---------------------------------------------------------
def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from companion.cli.association import worker_command

    return worker_command(args, settings)


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from companion.cli.association import ingest_command

    return ingest_command(args, settings)


# -- reflection, outreach, scheduler (companion/cli/reflection.py) --------------------------------------------
def _reflection_handlers() -> dict[str, Any]:
    from companion.cli import reflection as reflection_cli

    return {
        "reflect": reflection_cli.reflect_command,
        "insights": reflection_cli.insights_command,
        "conflicts": reflection_cli.conflicts_command,
        "archive": reflection_cli.archive_command,
        "proactive": reflection_cli.proactive_command,
        "prefs": reflection_cli.prefs_command,
        "scheduler": reflection_cli.scheduler_command,
    }


# -- detect, personality (companion/cli/personality.py) ------------------------------------------------------
def _detect(args: argparse.Namespace, settings: Settings) -> int:
    from companion.cli.personality import detect_command

    return detect_command(args.text, settings, as_json=args.json, console=console)


def _personality(args: argparse.Namespace, settings: Settings) -> int:
    from companion.cli.personality import personality_show_command

    return personality_show_command(
        args.user, args.persona, settings, as_json=args.json, changes=args.changes, console=console
    )


# -- demo --------------------------------------------------------------------------------------------------
def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from companion.cli.demo import run_demo

    return asyncio.run(run_demo(settings, console))


# -- eval --------------------------------------------------------------------------------------------------
def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from evals.cli import run_eval_command

    return asyncio.run(run_eval_command(args, settings, console))


if __name__ == "__main__":
    sys.exit(main())
