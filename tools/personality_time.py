"""What time alone does to the companion's personality, applied through the personality engine and its store.

Reflection and the scheduler never reimplement the engine: they load the (user, persona) state, call
``companion.core.personality.state.advance_time`` (needs grow at their hourly rates, mood relaxes toward the baseline,
the baseline drifts 1 % a day toward the 7-day average mood, quirks evolve once a day on the seed's numbers), and
save the result. The proactive graph reads the same advanced state without saving it.
"""

from __future__ import annotations

from typing import NotRequired

from typing_extensions import TypedDict

from companion.core.personality.persona import load_persona
from companion.core.personality.quirks import active_quirks
from companion.core.personality.state import PersonalityData, PersonalityState, advance_time
from companion.core.personality.traits import PADValues
from memory.personality_store import PersonalityStore, fingerprint
from tools.proactive import PersonalityReader, PersonalitySignals


class PersonalityAdvance(TypedDict):
    """What :func:`advance_personality` did: only a ``status`` when the user has no state yet."""

    status: str  # "advanced", "up to date" or why nothing was done
    events: NotRequired[list[str]]
    mood: NotRequired[PADValues]
    baseline: NotRequired[PADValues]
    needs: NotRequired[dict[str, float]]
    active_quirks: NotRequired[dict[str, float]]
    #: need -> interaction kind -> count: what kind of talk met each need (the seed's nightly needs analysis)
    satisfaction_patterns: NotRequired[dict[str, dict[str, int]]]


async def advance_personality(store: PersonalityStore, user_id: str, persona: str, now: float) -> PersonalityAdvance:
    """Advance a user's personality state to ``now`` and save it; returns what changed (for reports)."""
    key = load_persona(persona).key
    data, _ = await store.load(user_id, key)
    if data is None:
        return {"status": "no personality state yet (the user has not talked to this persona)"}
    before = PersonalityState.from_dict(data)
    after, events = advance_time(before, now, rates=store.rates)
    if after is not before:  # a compare-and-set: a turn saved meanwhile is advanced, not overwritten

        def redo(current: PersonalityData) -> PersonalityData:
            return advance_time(PersonalityState.from_dict(current), now, rates=store.rates)[0].to_dict()

        await store.update(user_id, key, loaded=fingerprint(data), updated=after.to_dict(), redo=redo)
    return {
        "status": "advanced" if after is not before else "up to date",
        "events": events,
        "mood": after.mood.rounded(),
        "baseline": after.baseline.rounded(),
        "needs": {name: round(level, 4) for name, level in after.needs.items()},
        "active_quirks": {q.name: round(q.strength, 4) for q in active_quirks(after.quirks)},
        "satisfaction_patterns": {need: dict(kinds) for need, kinds in after.satisfaction_patterns.items()},
    }


def personality_reader(store: PersonalityStore) -> PersonalityReader:
    """Reads needs (advanced to ``now``), the persona's Big Five and the current mood, for the proactive score."""

    async def read(user_id: str, persona: str, now: float) -> PersonalitySignals | None:
        profile = load_persona(persona)
        data, _ = await store.load(user_id, profile.key)
        if data is None:
            return None
        state, _ = advance_time(PersonalityState.from_dict(data), now, rates=store.rates)
        mood = state.mood
        return PersonalitySignals(
            needs=dict(state.needs),
            traits=profile.traits.to_dict(),
            pad=(mood.pleasure, mood.arousal, mood.dominance),
        )

    return read
