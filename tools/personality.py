"""The companion's personality for one user as of now: what ``companion personality show``, the bots and the API show.

Reads the durable state through ``PersonalityStore`` (Redis, else Chroma) and advances it to ``now`` with the pure
engine (mood relaxing, needs growing, drift, quirk fading), without writing anything back: looking changes nothing.
"""

from __future__ import annotations

import time
from typing import Any

from companion.core.personality.needs import TRIGGER_THRESHOLD, urgent_needs
from companion.core.personality.persona import Persona
from companion.core.personality.quirks import active_quirks
from companion.core.personality.state import PersonalityState, advance_time, new_state
from memory.personality_store import PersonalityStore
from memory.records import validate_user_id


async def personality_snapshot(
    store: PersonalityStore, user_id: str, persona: Persona, *, changes: int = 10, now: float | None = None
) -> dict[str, Any]:
    """Traits, mood with its recent causes, needs and quirks of (``user_id``, ``persona``) as of ``now``."""
    validate_user_id(user_id)
    data, source = await store.load(user_id, persona.key)
    now = time.time() if now is None else now
    stored = new_state(user_id, persona, now) if data is None else PersonalityState.from_dict(data)
    state, events = advance_time(stored, now, rates=store.rates)
    return {
        "user": user_id,
        "persona": persona.to_dict(),
        "source": source,  # redis, chroma or new (never talked to this persona)
        "as_of": now,
        "interactions": state.interactions,
        "mood": {**state.mood.rounded(), "label": state.mood.label},
        "baseline": {**state.baseline.rounded(), "label": state.baseline.label},
        "recent_changes": [
            {
                "at": change.at,
                "rule": change.rule,
                "cause": change.cause,
                "delta": change.delta.rounded(),
                "after": change.after.rounded(),
            }
            for change in reversed(state.changes[-changes:])
        ],
        "needs": {name: round(level, 4) for name, level in state.needs.items()},
        "urgent_needs": urgent_needs(state.needs),
        "need_trigger": TRIGGER_THRESHOLD,
        "quirks": [quirk.to_dict() for quirk in active_quirks(state.quirks)],
        "satisfaction_patterns": {need: dict(kinds) for need, kinds in state.satisfaction_patterns.items()},
        "pending_events": events,
    }


def describe_personality(snapshot: dict[str, Any]) -> str:
    """A few plain sentences about a snapshot, for chat front-ends."""
    name = snapshot["persona"].get("name", "your companion")
    mood = snapshot["mood"]
    lines = [
        f"I'm {name}. Right now I feel {mood['label']} "
        f"(pleasure {mood['pleasure']:+.2f}, arousal {mood['arousal']:+.2f}, dominance {mood['dominance']:+.2f})."
    ]
    if snapshot["recent_changes"]:
        last = snapshot["recent_changes"][0]
        lines.append(f"Last change: {last['rule']} ({last['cause']}).")
    urgent = snapshot["urgent_needs"]
    lines.append(f"What I need most: {', '.join(urgent)}." if urgent else "No pressing needs.")
    quirks = [
        f"{quirk['name']} ({str(quirk.get('category', 'behavior')).replace('_', ' ')})"
        for quirk in snapshot["quirks"]
        if quirk.get("name")
    ]
    if quirks:
        lines.append(f"Habits I picked up from you: {', '.join(quirks)}.")
    return " ".join(lines)
