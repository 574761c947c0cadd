"""The personality state of one (user, persona) and the engine that moves it. Pure: time is passed in.

* :func:`new_state` — mood at the persona's baseline, needs at 0.5, no quirks.
* :func:`advance_time` — what time alone does: needs grow (hourly rates), the mood relaxes toward the baseline
  (half-life :data:`MOOD_HALF_LIFE_HOURS`), the baseline drifts 1 % per elapsed day toward the 7-day average
  mood once there are at least 5 interactions in those 7 days (seed formula
  ``new = baseline + (average − baseline) × 0.01``), and quirks evolve once a day.
* :func:`apply_interaction` — one user message: time first, then the mood settles :data:`TURN_RELAXATION` of the
  way back to the baseline (the seed's mood "fluctuates around the baseline": without it a run of mildly pleasant
  small talk piles up into exuberance within minutes), then the OCC appraisal's PAD change (recorded with its
  cause), needs satisfied (and counted by interaction kind: the satisfaction patterns), quirk patterns counted,
  quirks the message contradicts weakened.
* :func:`apply_appraisal` — an appraisal outside a turn (an injection attempt's penalty): time, then the change.

Every mood change is kept in ``changes`` (the most recent :data:`MAX_CHANGES`) with its rule and cause.

The tunable rates (baseline drift, quirk reinforcement and decay) come in as a :class:`Rates` value, which the
callers build from the settings (``COMPANION_MOOD_DRIFT_RATE``, ``COMPANION_QUIRK_REINFORCEMENT_RATE``,
``COMPANION_QUIRK_DECAY_RATE``); the defaults are the seed's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from typing_extensions import TypedDict

from companion.core.personality.appraisal import Appraisal, appraise
from companion.core.personality.needs import (
    BASELINE_LEVEL,
    NEED_NAMES,
    TRIGGER_THRESHOLD,
    decay_needs,
    initial_needs,
    interaction_kind,
    mood_pull,
    needs_satisfied_by,
    record_satisfaction,
    satisfy_needs,
)
from companion.core.personality.persona import Persona
from companion.core.personality.quirks import (
    DECAY,
    REINFORCEMENT,
    PatternData,
    PatternStats,
    Quirk,
    QuirkData,
    contradict_quirks,
    evolve_quirks,
    observe_patterns,
    record_observations,
)
from companion.core.personality.traits import PAD, PADValues

DAY = 86_400.0
HOUR = 3_600.0
DRIFT_RATE = 0.01
DRIFT_WINDOW_DAYS = 7
DRIFT_MIN_INTERACTIONS = 5
MOOD_HALF_LIFE_HOURS = 12.0
#: Each turn the mood first moves this fraction of the way back to the baseline (then the appraisal applies): a
#: repeated change of d settles d × (1 − r) / r away from the baseline instead of running to the bound.
TURN_RELAXATION = 0.2
MAX_CHANGES = 50
#: Mood samples kept for the drift average (the last 7 days, at most this many: the state stays a few KB).
MAX_HISTORY = 500
#: Relaxation smaller than this (largest PAD component) is applied but not recorded as a change.
RECORD_RELAXATION_ABOVE = 0.01
STATE_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    """The engine's tunable rates, as plain values (the callers read them from the settings once).

    ``drift``: the share of the way the baseline moves toward the 7-day average mood per day (seed 0.01);
    ``quirk_reinforcement`` / ``quirk_decay``: strength a quirk gains on a day it showed / loses after 7 days
    without (seed 0.05 / 0.1).
    """

    drift: float = DRIFT_RATE
    quirk_reinforcement: float = REINFORCEMENT
    quirk_decay: float = DECAY


#: The seed's rates.
DEFAULT_RATES = Rates()


class MoodChangeData(TypedDict):
    """:meth:`MoodChange.to_dict`."""

    at: float
    rule: str
    cause: str
    delta: PADValues
    before: PADValues
    after: PADValues


@dataclass(frozen=True, slots=True, kw_only=True)
class MoodChange:
    """One recorded mood change: when, which rule, why, and the mood before and after."""

    at: float
    rule: str
    cause: str
    delta: PAD
    before: PAD
    after: PAD

    def to_dict(self) -> MoodChangeData:
        """A JSON-able dict."""
        return {
            "at": self.at,
            "rule": self.rule,
            "cause": self.cause,
            "delta": self.delta.to_dict(),
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MoodChange:
        """Inverse of :meth:`to_dict`."""
        return cls(
            at=float(data["at"]),
            rule=str(data["rule"]),
            cause=str(data["cause"]),
            delta=PAD.from_dict(data["delta"]),
            before=PAD.from_dict(data["before"]),
            after=PAD.from_dict(data["after"]),
        )


class PersonalityData(TypedDict):
    """:meth:`PersonalityState.to_dict`: the state as Redis, Chroma and the conversation state carry it."""

    version: int
    user_id: str
    persona: str
    mood: PADValues
    baseline: PADValues
    needs: dict[str, float]
    quirks: list[QuirkData]
    patterns: dict[str, PatternData]
    satisfaction_patterns: dict[str, dict[str, int]]  # need -> interaction kind -> times it satisfied the need
    history: list[tuple[float, PADValues]]  # a JSON round trip makes each pair a list; from_dict takes either
    changes: list[MoodChangeData]
    interactions: int
    created_at: float
    updated_at: float
    last_drift_at: float
    last_quirk_evolution_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonalityState:
    """Everything that changes about the companion for one user and persona."""

    user_id: str
    persona: str
    mood: PAD
    baseline: PAD
    needs: dict[str, float]
    quirks: tuple[Quirk, ...] = ()
    patterns: dict[str, PatternStats] = field(default_factory=dict)
    #: need -> interaction kind -> how many interactions of that kind satisfied it (``needs.record_satisfaction``).
    satisfaction_patterns: dict[str, dict[str, int]] = field(default_factory=dict)
    #: (time, mood after the interaction) of the last ``DRIFT_WINDOW_DAYS`` days, oldest first.
    history: tuple[tuple[float, PAD], ...] = ()
    changes: tuple[MoodChange, ...] = ()
    interactions: int = 0
    created_at: float
    updated_at: float
    last_drift_at: float
    last_quirk_evolution_at: float

    def to_dict(self) -> PersonalityData:
        """A JSON-able dict (what the store persists)."""
        return {
            "version": STATE_VERSION,
            "user_id": self.user_id,
            "persona": self.persona,
            "mood": self.mood.to_dict(),
            "baseline": self.baseline.to_dict(),
            "needs": dict(self.needs),
            "quirks": [quirk.to_dict() for quirk in self.quirks],
            "patterns": {name: stats.to_dict() for name, stats in self.patterns.items()},
            "satisfaction_patterns": {need: dict(kinds) for need, kinds in self.satisfaction_patterns.items()},
            "history": [(at, pad.to_dict()) for at, pad in self.history],
            "changes": [change.to_dict() for change in self.changes],
            "interactions": self.interactions,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_drift_at": self.last_drift_at,
            "last_quirk_evolution_at": self.last_quirk_evolution_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PersonalityState:
        """Inverse of :meth:`to_dict`."""
        return cls(
            user_id=str(data["user_id"]),
            persona=str(data["persona"]),
            mood=PAD.from_dict(data["mood"]),
            baseline=PAD.from_dict(data["baseline"]),
            needs={str(k): float(v) for k, v in dict(data["needs"]).items()},
            quirks=tuple(Quirk.from_dict(q) for q in data.get("quirks", [])),
            patterns={
                str(name): PatternStats(
                    count=int(s["count"]), confidence=float(s["confidence"]), last_seen=float(s["last_seen"])
                )
                for name, s in dict(data.get("patterns", {})).items()
            },
            satisfaction_patterns={
                str(need): {str(kind): int(count) for kind, count in dict(kinds).items()}
                for need, kinds in dict(data.get("satisfaction_patterns", {})).items()
            },
            history=tuple((float(at), PAD.from_dict(pad)) for at, pad in data.get("history", [])),
            changes=tuple(MoodChange.from_dict(c) for c in data.get("changes", [])),
            interactions=int(data.get("interactions", 0)),
            created_at=float(data["created_at"]),
            updated_at=float(data["updated_at"]),
            last_drift_at=float(data["last_drift_at"]),
            last_quirk_evolution_at=float(data["last_quirk_evolution_at"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class InteractionResult:
    """The state after one interaction, and the appraisal's change (``None`` when the message left mood alone)."""

    state: PersonalityState
    change: MoodChange | None
    satisfied: dict[str, float]
    events: list[str]


def new_state(user_id: str, persona: Persona, now: float) -> PersonalityState:
    """A fresh state: mood at the persona's baseline, needs at their baseline, no quirks."""
    baseline = persona.baseline
    return PersonalityState(
        user_id=user_id,
        persona=persona.key,
        mood=baseline,
        baseline=baseline,
        needs=initial_needs(),
        created_at=now,
        updated_at=now,
        last_drift_at=now,
        last_quirk_evolution_at=now,
    )


def _record(state: PersonalityState, change: MoodChange) -> tuple[MoodChange, ...]:
    return (*state.changes, change)[-MAX_CHANGES:]


def drift_baseline(
    baseline: PAD, history: tuple[tuple[float, PAD], ...], now: float, days: int, *, rate: float = DRIFT_RATE
) -> PAD | None:
    """The baseline after ``days`` drift steps of ``rate`` toward the 7-day average mood (``None``: < 5 samples)."""
    recent = [pad for at, pad in history if now - at <= DRIFT_WINDOW_DAYS * DAY]
    if len(recent) < DRIFT_MIN_INTERACTIONS or days < 1:
        return None
    average = PAD(
        pleasure=sum(p.pleasure for p in recent) / len(recent),
        arousal=sum(p.arousal for p in recent) / len(recent),
        dominance=sum(p.dominance for p in recent) / len(recent),
    )
    return baseline.toward(average, 1.0 - (1.0 - rate) ** days)


def resting_mood(baseline: PAD, needs: Mapping[str, float]) -> PAD:
    """Where the mood relaxes to: the baseline, moved by the needs that are unmet (``needs.mood_pull``)."""
    return baseline + mood_pull(dict(needs))


def advance_time(
    state: PersonalityState, now: float, *, rates: Rates = DEFAULT_RATES
) -> tuple[PersonalityState, list[str]]:
    """What time alone does between ``state.updated_at`` and ``now`` (see the module docstring)."""
    elapsed = now - state.updated_at
    if elapsed <= 0:
        return state, []
    events: list[str] = []
    changes = state.changes
    needs = decay_needs(state.needs, elapsed / HOUR)
    mood = state.mood
    resting = resting_mood(state.baseline, needs)
    relaxed = mood.toward(resting, 1.0 - math.pow(0.5, elapsed / HOUR / MOOD_HALF_LIFE_HOURS))
    moved = relaxed.minus(mood)
    if max(abs(moved.pleasure), abs(moved.arousal), abs(moved.dominance)) > RECORD_RELAXATION_ABOVE:
        unmet = [name for name in NEED_NAMES if needs.get(name, BASELINE_LEVEL) >= TRIGGER_THRESHOLD]
        toward = "its baseline" if not unmet else f"its baseline, lowered by unmet needs ({', '.join(unmet)})"
        change = MoodChange(
            at=now,
            rule="relaxation",
            cause=f"time: {elapsed / HOUR:.1f} h passed and the mood relaxed toward {toward}",
            delta=moved,
            before=mood,
            after=relaxed,
        )
        changes = (*changes, change)[-MAX_CHANGES:]
    baseline, last_drift_at = state.baseline, state.last_drift_at
    history = tuple((at, pad) for at, pad in state.history if now - at <= DRIFT_WINDOW_DAYS * DAY)
    days = int((now - state.last_drift_at) // DAY)
    if days >= 1:
        drifted = drift_baseline(baseline, history, now, days, rate=rates.drift)
        last_drift_at = state.last_drift_at + days * DAY
        if drifted is not None:
            events.append(f"baseline drifted {days} day(s) toward the 7-day average mood")
            baseline = drifted
    quirks, last_evolution = state.quirks, state.last_quirk_evolution_at
    if now - last_evolution >= DAY:
        quirks, quirk_events = evolve_quirks(
            quirks, state.patterns, now, reinforcement=rates.quirk_reinforcement, decay=rates.quirk_decay
        )
        events.extend(quirk_events)
        last_evolution = now
    advanced = replace(
        state,
        mood=relaxed,
        baseline=baseline,
        needs=needs,
        quirks=quirks,
        history=history,
        changes=changes,
        updated_at=now,
        last_drift_at=last_drift_at,
        last_quirk_evolution_at=last_evolution,
    )
    return advanced, events


def apply_interaction(
    state: PersonalityState,
    *,
    message: str,
    emotion: str,
    intensity: int,
    emotions: Mapping[str, int],
    category: str,
    now: float,
    crisis: str | None = None,
    rates: Rates = DEFAULT_RATES,
) -> InteractionResult:
    """One user message: time passes, the mood settles a little, the appraisal moves it, needs, patterns.

    ``crisis`` is the crisis kind perception flagged (``None``: no crisis); see :func:`appraise`.
    """
    state, events = advance_time(state, now, rates=rates)
    appraisal = appraise(message, emotion, intensity, emotions, crisis=crisis)
    change: MoodChange | None = None
    mood, changes = state.mood.toward(resting_mood(state.baseline, state.needs), TURN_RELAXATION), state.changes
    if appraisal is not None:
        after = mood + appraisal.delta
        change = MoodChange(
            at=now, rule=appraisal.rule, cause=appraisal.cause, delta=after.minus(mood), before=mood, after=after
        )
        if change.delta.is_zero:  # already at the bound: the mood did not move
            change = None
        mood = after
        changes = changes if change is None else _record(state, change)
    complimented = appraisal is not None and appraisal.rule == "compliment"
    satisfied = needs_satisfied_by(
        message, category=category, emotion=emotion, intensity=intensity, complimented=complimented
    )
    kind = interaction_kind(message, category=category, complimented=complimented)
    patterns, quirks = record_observations(state.patterns, state.quirks, observe_patterns(message), now)
    quirks, contradicted = contradict_quirks(quirks, message, now)
    events = [*events, *contradicted]
    updated = replace(
        state,
        mood=mood,
        changes=changes,
        needs=satisfy_needs(state.needs, satisfied),
        satisfaction_patterns=record_satisfaction(state.satisfaction_patterns, satisfied, kind),
        patterns=patterns,
        quirks=quirks,
        history=(*state.history, (now, mood))[-MAX_HISTORY:],
        interactions=state.interactions + 1,
        updated_at=now,
    )
    return InteractionResult(state=updated, change=change, satisfied=satisfied, events=events)


def apply_appraisal(
    state: PersonalityState, appraisal: Appraisal, *, now: float, rates: Rates = DEFAULT_RATES
) -> InteractionResult:
    """An appraisal that is not a conversation turn (an injection attempt's penalty): time passes, the mood moves.

    The change is recorded with its rule and cause like a turn's; needs, quirk patterns and the interaction
    count are left alone (the message was refused, not talked about).
    """
    state, events = advance_time(state, now, rates=rates)
    after = state.mood + appraisal.delta
    change = MoodChange(
        at=now,
        rule=appraisal.rule,
        cause=appraisal.cause,
        delta=after.minus(state.mood),
        before=state.mood,
        after=after,
    )
    updated = replace(
        state,
        mood=after,
        changes=_record(state, change),
        history=(*state.history, (now, after))[-MAX_HISTORY:],
        updated_at=now,
    )
    return InteractionResult(state=updated, change=change, satisfied={}, events=events)
