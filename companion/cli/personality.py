"""``companion detect`` and ``companion personality show``: the implementations behind ``companion/cli/main.py``."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from companion.settings import Settings


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
    console.print(f"injection: {flagged} (score {injection['score']:.3f}, threshold 0.7)", highlight=False)
    sensitivity = result["sensitivity"]
    console.print(
        f"sensitivity: {sensitivity['level']} (confidence {sensitivity['confidence']:.2f}, {sensitivity['source']})"
        f"   tags: {', '.join(sensitivity['tags']) or '-'}   sentiment: {sensitivity['sentiment']}",
        highlight=False,
    )
    return 0


async def detect_payload(message: str, settings: Settings) -> dict[str, Any]:
    """The JSON object ``companion detect --json`` prints. Top-level keys are one per detector, so more can join."""
    from companion.services import build_chat_model, ensure_data_dir
    from memory.embeddings import load_embedder
    from tools.detection import load_detector, score_with_model
    from tools.injection import detect_injection, load_classifier
    from tools.sensitivity import classify_local, classify_with_model

    ensure_data_dir(settings.data_dir)
    embedder = load_embedder(settings.data_dir / "models")
    detector = load_detector()
    started = time.perf_counter()
    embedding = embedder.embed([message])[0]
    embedded = time.perf_counter()
    detection = detector.detect(message, embedding)
    detected = time.perf_counter()
    injection = detect_injection(message, embedding, load_classifier())
    classified_at = time.perf_counter()
    sensitivity = classify_local(message, detection.emotions)
    sensitivity_ms = round((time.perf_counter() - classified_at) * 1000.0, 3)
    chat_model = build_chat_model(settings)
    scored_by = "local"
    if chat_model is not None:
        refined = await score_with_model(chat_model, message, detection)
        scored_by = (settings.chat_model or "model") if refined is not detection else "local (model failed)"
        detection = refined
        sensitivity = await classify_with_model(chat_model, message, sensitivity)
    return {
        "text": message,
        "emotion": {
            "dominant": detection.emotion,
            "intensity": detection.intensity,
            "is_emotional_signal": detection.is_emotional_signal,
            "intensities": detection.emotions,
            "source": "local",
        },
        "importance": {"value": detection.importance, "level": detection.importance_level, "source": scored_by},
        "category": {"value": detection.category, "source": scored_by},
        "crisis": detection.crisis.to_dict(),
        "injection": injection.to_dict(),
        "sensitivity": sensitivity.to_dict(),
        "timings_ms": {
            "embed": round((embedded - started) * 1000.0, 3),
            "detect": round((detected - embedded) * 1000.0, 3),
            "classify": sensitivity_ms,
        },
    }


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
    from companion.personality.persona import load_persona
    from companion.services import open_services
    from memory.personality_store import PersonalityStore
    from tools.personality import personality_snapshot

    persona = load_persona(persona_name)
    async with open_services(settings) as services:
        store = PersonalityStore(services.long_term.client, services.redis)
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
    quirks = ", ".join(f"{q['description']} ({q['strength']:.2f})" for q in payload["quirks"]) or "none yet"
    console.print(f"quirks: {escape(quirks)}", highlight=False)
