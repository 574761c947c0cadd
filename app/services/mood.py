"""The companion's recorded mood changes with one user (the bounded history the durable state keeps)."""

from __future__ import annotations

import time
from typing import Any

from companion.core.personality.persona import load_persona
from companion.core.personality.state import MAX_CHANGES, PersonalityState, advance_time, new_state
from companion.services import Services


async def mood_history(services: Services, user_id: str, *, limit: int, rule: str | None) -> dict[str, Any]:
    """The mood as of now and the recorded changes (rule, cause, delta, before, after), newest first.

    Only recorded changes are listed: the relaxation time alone would add by now is applied to ``mood`` but
    recorded with the next message, as the engine records it.
    """
    persona = load_persona(services.settings.persona)
    data, source = await services.personality.load(user_id, persona.key)
    now = time.time()
    stored = new_state(user_id, persona, now) if data is None else PersonalityState.from_dict(data)
    current, _ = advance_time(stored, now, rates=services.personality.rates)
    changes = [change for change in reversed(stored.changes) if rule is None or change.rule == rule]
    return {
        "user": user_id,
        "persona": persona.key,
        "source": source,
        "as_of": now,
        "mood": {**current.mood.rounded(), "label": current.mood.label},
        "baseline": {**current.baseline.rounded(), "label": current.baseline.label},
        "kept": MAX_CHANGES,
        "changes": [
            {
                "at": change.at,
                "rule": change.rule,
                "cause": change.cause,
                "delta": change.delta.rounded(),
                "before": change.before.rounded(),
                "after": change.after.rounded(),
                "label": change.after.label,
            }
            for change in changes[:limit]
        ],
    }
