"""API and security commands: ``serve``, ``keys create|list|revoke``, ``injection-check``, ``incidents``.

``companion incidents [--user ID] [--crises] [--json]`` lists injection incidents (or crisis messages, never their
text); ``companion incidents false-positive ID`` marks an injection incident a false positive, which removes its
offence and lifts a cooldown or block the remaining offences no longer justify.

``companion serve`` runs the REST API under uvicorn; ``companion injection-check --text T [--json]`` scores a text
with the injection detector (the same rules and classifier the conversation graph uses).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from companion.cli.arguments import bounded
from companion.cli.output import emit
from memory.sensitivity import SHARED_MAX_LEVEL, Sensitivity

if TYPE_CHECKING:
    from companion.core.settings import Settings

console = Console()


NO_BACKGROUND_HELP = (
    "do not run the association worker and the scheduler in this process (run `companion worker` and "
    "`companion scheduler` instead); the same as COMPANION_BACKGROUND=false"
)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """The ``serve`` and ``keys`` subcommands."""
    serve = commands.add_parser("serve", help="serve the REST API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0: any free port)")
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (default info)",
    )
    serve.add_argument("--no-background", action="store_true", help=NO_BACKGROUND_HELP)

    keys = commands.add_parser("keys", help="API keys for the REST API (stored only as hashes)")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = key_commands.add_parser("create", help="a new key; the secret is printed once")
    scope = create.add_mutually_exclusive_group(required=True)
    scope.add_argument("--user", help="the one user this key may act on")
    scope.add_argument("--admin", action="store_true", help="an admin key (every user, admin routes)")
    create.add_argument(
        "--tenant",
        help="confine the key to this tenant's users (default: a user key is the 'default' tenant's, "
        "an admin key without --tenant is an operator key for every tenant)",
    )
    create.add_argument(
        "--clearance",
        choices=[level.value for level in Sensitivity],
        default=SHARED_MAX_LEVEL.value,
        help=f"admin keys: the most sensitive memories shown (default {SHARED_MAX_LEVEL.value})",
    )
    create.add_argument("--name", default="", help="a label to recognise the key by")
    create.add_argument("--json", action="store_true")
    listing = key_commands.add_parser("list", help="live keys (ids, never secrets)")
    listing.add_argument("--json", action="store_true")
    revoke = key_commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key's id as `keys list` shows it, or a unique prefix")
    revoke.add_argument("--json", action="store_true")

    incidents = commands.add_parser("incidents", help="injection incidents and crisis messages, for admins")
    incidents.add_argument("--user", help="one user only")
    incidents.add_argument("--limit", type=int, default=50, help="how many, newest first (default 50)")
    incidents.add_argument("--crises", action="store_true", help="list crisis messages instead (never their text)")
    incidents.add_argument("--json", action="store_true")
    incident_actions = incidents.add_subparsers(dest="incidents_command", metavar="ACTION")
    review = incident_actions.add_parser(
        "false-positive", help="mark an incident a false positive (removes the offence)"
    )
    review.add_argument("incident_id", metavar="INCIDENT_ID", help="the incident's id as `incidents` shows it")
    review.add_argument("--json", action="store_true")

    check = commands.add_parser("injection-check", help="score a text with the injection detector (rules + classifier)")
    check.add_argument("--text", required=True, help="the message to check")
    check.add_argument("--json", action="store_true")


_port = bounded(int, 0, 65535, noun="a port number")


def _when(item: dict[str, str]) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(item["detected_at"])))


#: What ``companion incidents`` shows of each incident, by column.
INCIDENT_COLUMNS: dict[str, Callable[[dict[str, str]], str]] = {
    "id": itemgetter("id"),
    "user": itemgetter("user_id"),
    "kind": itemgetter("kind"),
    "score": lambda item: item["score"][:5],  # the stored repr of a float: a few digits are enough to read
    "level": itemgetter("escalation_level"),
    "review": lambda item: item.get("review", ""),
    "when": _when,
}
#: What ``companion incidents --crises`` shows of each crisis message, by column (its text is never logged).
CRISIS_COLUMNS: dict[str, Callable[[dict[str, str]], str]] = {
    "id": itemgetter("id"),
    "user": itemgetter("user_id"),
    "conversation": itemgetter("conversation_id"),
    "memory": itemgetter("memory_id"),
    "kind": itemgetter("kind"),
    "source": itemgetter("source"),
    "when": _when,
}


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the API under uvicorn until interrupted, with the worker and the scheduler inside unless told not to.

    On the embedded defaults it serves the data dir's Chroma to other processes while it runs (as ``companion
    services start`` does), so ``companion memories`` and the rest keep working beside it; ``companion chat`` on
    the same data dir hands its turns to this process (``companion/cli/handoff.py``).
    """
    import uvicorn

    from app.access_log import access_log_config
    from app.main import create_app
    from companion.cli import handoff
    from companion.cli.serving import AnnouncedServer
    from companion.services import build_services, shared_stores

    if args.no_background:
        settings = settings.model_copy(update={"background": False})
    token = handoff.new_token()  # this process's alone: in memory here and in the discovery file, nowhere else
    with shared_stores(settings):
        services = build_services(settings)  # a store that cannot be used stops here, as one line with its code
        app = create_app(settings, services=services, local_token=token)
        config = uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            log_config=access_log_config(settings.log_format),
        )
        server = AnnouncedServer(
            config, data_dir=settings.data_dir, token=token, fingerprint=handoff.settings_fingerprint(settings)
        )
        try:
            server.run()  # what uvicorn.run does with one worker and no reload, the server being ours
        except KeyboardInterrupt:  # as uvicorn.run: a second Ctrl-C during the graceful shutdown
            pass
        finally:  # the server withdraws the file as it shuts down; not if it failed on the way there
            handoff.withdraw(settings.data_dir)
    return 0


def keys(args: argparse.Namespace, settings: Settings) -> int:
    """Create, list or revoke API keys."""
    return asyncio.run(_keys(args, settings))


async def _keys(args: argparse.Namespace, settings: Settings) -> int:
    from redis.asyncio import Redis

    from companion.services import check_redis, ensure_data_dir, open_key_register, resolve_redis_url
    from memory.api_keys import ApiKeyStore, KeyScope

    ensure_data_dir(settings.data_dir)
    url, _ = resolve_redis_url(settings)
    check_redis(url)
    redis = Redis.from_url(url)
    register = open_key_register(settings)
    try:
        store = ApiKeyStore(redis, register)
        if args.keys_command == "create":
            scope = KeyScope.ADMIN if args.admin else KeyScope.USER
            secret, key = await store.create(
                scope=scope,
                user_id=args.user or "",
                name=args.name,
                tenant=args.tenant,
                clearance=Sensitivity(args.clearance),
            )
            if args.json:
                print(json.dumps({"secret": secret, **key.to_dict()}))
            else:
                who = "admin" if args.admin else f"user {args.user}"
                who += f" of tenant {key.tenant}" if key.tenant else " (operator: every tenant)"
                console.print(f"created key [bold]{key.key_id}[/] for {escape(who)}; the secret is shown only now:")
                print(secret)
            return 0
        if args.keys_command == "revoke":
            key = await store.revoke(await store.resolve_id(args.key_id))
            if args.json:
                print(json.dumps({"revoked": key.key_id}))
            else:
                console.print(f"revoked key [bold]{escape(key.key_id)}[/]")
            return 0
        listed = await store.list()
        if args.json:
            print(json.dumps({"keys": [key.to_dict() for key in listed]}))
            return 0
        rows = [
            {
                "id": key.key_id,
                "scope": key.scope.value,
                "tenant": key.tenant or "(all)",
                "user": key.user_id or "-",
                "clearance": key.clearance.value if key.scope is KeyScope.ADMIN else "own data",
                "name": key.name,
                "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(key.created_at)),
            }
            for key in listed
        ]
        emit(rows, as_json=False, title=f"{len(listed)} API keys")
        return 0
    finally:
        register.close()
        await redis.aclose()


def incidents(args: argparse.Namespace, settings: Settings) -> int:
    """List incidents or crisis messages, or mark an incident a false positive."""
    return asyncio.run(_incidents(args, settings))


async def _incidents(args: argparse.Namespace, settings: Settings) -> int:
    from redis.asyncio import Redis

    from companion.core.errors import NotFoundError
    from companion.services import check_redis, ensure_data_dir, resolve_redis_url
    from memory.records import validate_user_id
    from memory.security import SecurityStore

    if args.user is not None:
        validate_user_id(args.user)
    ensure_data_dir(settings.data_dir)
    url, _ = resolve_redis_url(settings)
    check_redis(url)
    redis = Redis.from_url(url)
    try:
        store = SecurityStore(redis)
        if args.incidents_command == "false-positive":
            from companion.services import open_services
            from tools.reviews import review_false_positive

            async with open_services(settings) as services:  # the mood penalty lives in the personality state
                personalities = services.personality
                reviewed = await review_false_positive(
                    SecurityStore(services.redis), personalities, args.incident_id, persona=settings.persona
                )
            if reviewed is None:
                raise NotFoundError(f"no incident {args.incident_id!r}")
            if args.json:
                print(json.dumps({"incident": reviewed}))
            else:
                console.print(
                    f"incident [bold]{escape(args.incident_id)}[/] of {escape(reviewed['user_id'])} marked a false "
                    f"positive; {reviewed['offences_7d_now']} offence(s) left in 7 days"
                    + ("; the mood penalty is taken back" if reviewed["mood_restored"] else "")
                )
            return 0
        limit = max(1, min(args.limit, 1000))
        if args.crises:
            found = await store.crises(limit=limit, user_id=args.user)
            name, columns, title = "crises", CRISIS_COLUMNS, f"{len(found)} crisis messages (text not logged)"
        else:
            found = await store.incidents(limit=limit, user_id=args.user)
            name, columns, title = "incidents", INCIDENT_COLUMNS, f"{len(found)} injection incidents"
        if args.json:
            print(json.dumps({name: found}))
        else:
            rows = [{column: show(item) for column, show in columns.items()} for item in found]
            emit(rows, as_json=False, title=title)
        return 0
    finally:
        await redis.aclose()


def injection_check(args: argparse.Namespace, settings: Settings) -> int:
    """Print the injection verdict of one text (exit 0 either way: this reports, it does not judge)."""
    from memory.embeddings import load_embedder
    from memory.records import validate_message
    from tools.detection import INJECTION_OUTPUT, perception_scores
    from tools.injection import detect_injection, load_classifier

    text = validate_message(args.text, max_chars=settings.max_message_chars)
    embedder = load_embedder(settings.data_dir / "models")
    vectors, scores = perception_scores([text], embedder)
    model_score = None if scores is None else float(scores[0, INJECTION_OUTPUT])
    threshold = settings.injection_threshold
    verdict = detect_injection(text, vectors[0], load_classifier(), threshold=threshold, model_score=model_score)
    if args.json:
        print(json.dumps({"injection": verdict.to_dict()}))
    else:
        state = "[bold red]flagged[/]" if verdict.flagged else "[green]not flagged[/]"
        kind = f" as {verdict.kind.value}" if verdict.kind else ""
        console.print(
            f"{state}{kind}: score {verdict.score:.3f} (rules {verdict.rule_score:.2f}, "
            f"classifier {verdict.classifier_score:.3f}; threshold {threshold:g})"
        )
    return 0
