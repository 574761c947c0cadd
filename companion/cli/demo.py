"""``companion demo``: a scripted conversation that shows the companion recalling what it was told.

The user tells a few facts among small talk in one conversation; then, in a *new* conversation (so nothing is
in the short-term context), asks about them. Each probe passes when the memory holding the answer is among the
memories the turn retrieved. The demo starts from a clean slate for its user every run, and exits non-zero if
a probe fails, so it doubles as a smoke test.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from companion.core.settings import Settings
from companion.services import open_checkpointer, open_services
from graphs.conversation import build_graph_from_services, run_turn
from memory.embedded import EmbeddedRedis

DEMO_USER = "demo-user"

TELLING = [
    "Hi! I'm Sam. I moved to Lisbon last spring and I love it here.",
    "I have a golden retriever called Biscuit who is obsessed with the beach.",
    "Work has been hectic this week, far too many meetings.",
    "My sister Ana is getting married in June and I'm giving the speech!",
    "Honestly I just want a quiet weekend with a good book.",
    "I started cello lessons, every Tuesday evening.",
]

#: (question, a word the retrieved memory must contain)
PROBES = [
    ("What's my dog's name again?", "Biscuit"),
    ("Which city do I live in now?", "Lisbon"),
    ("Who is getting married this summer?", "Ana"),
    ("What instrument am I learning?", "cello"),
]


def perceived(state: dict[str, Any]) -> str:
    """One line on what the turn perceived and how it moved the companion's mood."""
    detection, mood = state.get("detection") or {}, state.get("mood") or {}
    felt = f"{detection.get('emotion', '?')} {detection.get('intensity', 0)}/100"
    line = f"perceived {felt}, importance {detection.get('importance', '?')}, {detection.get('category', '?')}"
    change = mood.get("change")
    moved = f"{change['rule']}" if change else "unchanged"
    return f"{line} · mood {mood.get('label', '?')} (P {mood.get('pleasure', 0):+.2f}; {moved})"


async def run_demo(settings: Settings, console: Console) -> int:
    """Run the scripted conversation; returns the exit code (0 when every probe recalled its fact)."""
    console.rule("[bold]companion demo")
    started_at = time.perf_counter()
    async with open_services(settings) as services, open_checkpointer(settings, services=services) as checkpointer:
        console.print(
            f"[dim]data dir {settings.data_dir} · Redis {services.redis_url} · Chroma {services.chroma_mode} · "
            f"embedder {services.embedder.model_name} · responder "
            f"{'offline (no COMPANION_CHAT_MODEL set)' if services.chat_model is None else settings.chat_model}[/]",
            highlight=False,
        )
        # A clean slate for the demo user, so the demo behaves the same on every run.
        services.long_term.delete_user(DEMO_USER)
        services.personality.delete_user(DEMO_USER)
        await services.short_term.forget_user(DEMO_USER)
        graph = build_graph_from_services(services, checkpointer=checkpointer)
        console.print("\n[bold]Conversation 1[/] — Sam talks about their life")
        for message in TELLING:
            state = await run_turn(graph, user_id=DEMO_USER, conversation_id="monday", message=message)
            console.print(f"[cyan]Sam:[/] {escape(message)}", highlight=False)
            console.print(f"[magenta]companion:[/] {escape(state['reply'])}", highlight=False)
            console.print(f"[dim]  {escape(perceived(state))}[/]", highlight=False)

        console.print("\n[bold]Conversation 2[/] — a new session: nothing in short-term context, only long-term memory")
        results = []
        for question, expected in PROBES:
            turn_started = time.perf_counter()
            state = await run_turn(graph, user_id=DEMO_USER, conversation_id="friday", message=question)
            state["turn_ms"] = (time.perf_counter() - turn_started) * 1000.0
            recalled = [m["text"] for m in state["memories"]]
            hit = next((rank for rank, text in enumerate(recalled) if expected.lower() in text.lower()), None)
            results.append((question, expected, hit, state))
            console.print(f"[cyan]Sam:[/] {escape(question)}", highlight=False)
            console.print(f"[magenta]companion:[/] {escape(state['reply'])}", highlight=False)

        table = Table(title="recall check")
        for column in ("question", "needs", "found at rank", "turn ms"):
            table.add_column(column)
        for question, expected, hit, state in results:
            rank = "[red]not recalled[/]" if hit is None else f"[green]{hit + 1}[/]"
            table.add_row(question, expected, rank, f"{state['turn_ms']:.1f}")
        console.print(table)
        stored = services.long_term.count(DEMO_USER)
        started_redis = "redis" in services.started

    passed = sum(hit is not None for _, _, hit, _ in results)
    console.print(
        f"{passed}/{len(results)} facts recalled · {stored} memories stored · {time.perf_counter() - started_at:.1f} s"
    )
    if started_redis:  # leave the machine as we found it; `companion services start` keeps servers running
        EmbeddedRedis(settings.data_dir).stop()
    return 0 if passed == len(results) else 1
