"""``companion detect`` and ``companion personality show``: the implementations behind ``companion/cli/main.py``."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from companion.core.settings import Settings


# -- detect ------------------------------------------------------------------------------------------------
def detect_command(text: str, settings: Settings, *, as_json: bool, console: Console) -> int:
    """Detect emotion, importance and category of ``text`` (local; importance/category from the chat model if set)."""
    from memory.records import validate_message

    message = validate_message(text, max_chars=settings.max_message_chars)
    result = asyncio.run(detect_payload(message, settings))
    if as_json:
        console.out(json.dumps(result, ensure_ascii=False), highlight=False)
        return 0
    emotion = result["emotion"]
    table = Table(title=f"emotions in {message[:60]!r}", show_lines=False)
    table.add_column("emotion")
    table.add_column("intensity", justify="right")
    for name, value in sorted(emotion["intensities"].items(), key=lambda item: -item[1]):
        marker = " [bold]<- dominant[/]" if name == emotion["dominant"] else ""
        table.add_row(name, f"{value}{marker}")
    console.print(table)
    signal = "yes" if emotion["is_emotional_signal"] else "no"
    console.print(
        f"emotional signal: {signal}   importance: {result['importance']['value']} ({result['importance']['level']},"
        f" {result['importance']['source']})   category: {result['category']['value']}"
        f" ({result['category']['source']})",
        highlight=False,
    )
    injection = result["injection"]
    flagged = "[bold red]flagged[/]" if injection["flagged"] else "not flagged"
    threshold = settings.injection_threshold
    console.print(f"injection: {flagged} (score {injection['score']:.3f}, threshold {threshold:g})", highlight=False)
    sensitivity = result["sensitivity"]
    console.print(
        f"sensitivity: {sensitivity['level']} (confidence {sensitivity['confidence']:.2f}, {sensitivity['source']})"
        f"   tags: {', '.join(sensitivity['tags']) or '-'}   sentiment: {sensitivity['sentiment']}",
        highlight=False,
    )
    return 0


async def detect_payload(message: str, settings: Settings) -> dict[str, Any]:
    """The JSON object ``companion detect --json`` prints (``tools.classify.classify_text``)."""
    from companion.services import build_chat_model, ensure_data_dir
    from memory.embeddings import load_embedder
    from tools.classify import classify_text

    ensure_data_dir(settings.data_dir)
    embedder = load_embedder(settings.data_dir / "models")
    return await classify_text(
        message,
        embedder,
        build_chat_model(settings),
        model_name=settings.chat_model,
        injection_threshold=settings.injection_threshold,
    )


# -- personality show --------------------------------------------------------------------------------------
def personality_show_command(
    user_id: str, persona_name: str | None, settings: Settings, *, as_json: bool, changes: int, console: Console
) -> int:
    """Print traits, mood with its recent causes, needs and quirks of one (user, persona)."""
    from memory.records import validate_user_id

    validate_user_id(user_id)
    payload = asyncio.run(personality_payload(user_id, persona_name or settings.persona, settings, changes))
    if as_json:
        console.out(json.dumps(payload, ensure_ascii=False), highlight=False)
        return 0
    _print_personality(payload, console)
    return 0


async def personality_payload(user_id: str, persona_name: str, settings: Settings, changes: int) -> dict[str, Any]:
    """The JSON object ``companion personality show --json`` prints (the state as of now)."""
    from companion.core.personality.persona import load_persona
    from companion.services import open_stores, personality_rates
    from memory.personality_store import PersonalityStore
    from tools.personality import personality_snapshot

    persona = load_persona(persona_name)
    async with open_stores(settings) as (chroma, redis):
        store = PersonalityStore(chroma, redis, rates=personality_rates(settings))
        return await personality_snapshot(store, user_id, persona, changes=changes)


def _print_personality(payload: dict[str, Any], console: Console) -> None:
    persona, mood, baseline = payload["persona"], payload["mood"], payload["baseline"]
    console.print(
        f"[bold]{escape(persona['name'])}[/] ({escape(persona['key'])}) with [bold]{escape(payload['user'])}[/]"
        f" after {payload['interactions']} messages  [dim](state from {payload['source']})[/]",
        highlight=False,
    )
    traits = ", ".join(f"{name} {value:.2f}" for name, value in persona["traits"].items())
    console.print(f"traits: {traits}", highlight=False)
    console.print(
        f"mood: [bold]{mood['label']}[/]  P {mood['pleasure']:+.2f}  A {mood['arousal']:+.2f}"
        f"  D {mood['dominance']:+.2f}"
        f"   (baseline {baseline['label']}: P {baseline['pleasure']:+.2f}  A {baseline['arousal']:+.2f}"
        f"  D {baseline['dominance']:+.2f})",
        highlight=False,
    )
    table = Table(title="recent mood changes (newest first)")
    for column in ("when", "rule", "ΔP", "ΔA", "ΔD", "cause"):
        table.add_column(column, overflow="fold")
    for change in payload["recent_changes"]:
        delta = change["delta"]
        table.add_row(
            time.strftime("%Y-%m-%d %H:%M", time.localtime(change["at"])),
            change["rule"],
            f"{delta['pleasure']:+.2f}",
            f"{delta['arousal']:+.2f}",
            f"{delta['dominance']:+.2f}",
            escape(change["cause"]),
        )
    console.print(table)
    needs = "  ".join(
        f"{name} {level:.2f}{' (urgent)' if name in payload['urgent_needs'] else ''}"
        for name, level in payload["needs"].items()
    )
    console.print(f"needs: {needs}", highlight=False)
    quirks = (
        ", ".join(
            f"{q['description']} ({q['category'].replace('_', ' ')}, {q['strength']:.2f}, confidence"
            f" {q['confidence']:.2f})"
            for q in payload["quirks"]
        )
        or "none yet"
    )
    console.print(f"quirks: {escape(quirks)}", highlight=False)
    patterns = "; ".join(
        f"{need}: " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1]))
        for need, kinds in payload.get("satisfaction_patterns", {}).items()
        if kinds
    )
    console.print(f"needs met by: {escape(patterns or 'nothing yet')}", highlight=False)
