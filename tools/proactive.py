"""Pure logic of proactive outreach: the design seed's score, the guardrails, and the activity profile.

Score (design seed 003, ``calculate_proactive_score``)::

    base  = 0.4 × need urgency + 0.25 × timing + 0.35 × interaction pattern
    final = clamp(base × personality factor × (1 − recent-contact penalty), 0, 1);  reach out when final >= 0.6

- *need urgency*: for each need at or above its trigger threshold (0.8), (level − 0.8) / 0.2, weighted by need type
  (social 0.35, validation 0.25, intellectual 0.20, creative 0.15, rest 0.05) and by the need's own
  ``proactive_weight`` (the seed's per-need column, default 1.0, kept with the need definitions in
  ``companion/core/personality/needs.py``), summed and capped at 1 (seed: ``urgency × need_weights[type] ×
  need.proactive_weight``).
- *timing*: 0.7 × this local hour's activity + 0.3 × this weekday's (30-day histograms normalised so the busiest
  = 1; 0.5 when there is no history), × (1 − penalty) where penalty = (4 − h)/4 × 0.5 for h < 4 hours since the
  user's last message, min(0.8, (h − 72)/168 × 0.5) beyond 72 hours, else 0.
- *interaction pattern*: 0.4 × proactive response rate + 0.3 × min(1, messages per conversation / 10)
  + 0.2 × time-gap factor (h/12 under 12 h, 1 for 12-48 h, up to 1.2 at a week) + 0.1 × (1.5 − user
  initiation ratio), clamped to [0, 1]; 0.5 for a user with no history.
- *personality factor*: 1 + Σ (trait − 0.5) × weight (extraversion 0.3, openness 0.2, agreeableness 0.1,
  conscientiousness −0.1, neuroticism 0.15), × PAD influence (0.8 + 0.3p)(1 − 0.2|a|)(0.9 + 0.2d), clamped to
  [0.3, 1.7]; 1 with no personality.
- *recent-contact penalty*: max(0, 1 − h/12) for h hours since the last outreach (the seed's 12-hour window).

Guardrails, checked before scoring (any one blocks): opted out; quiet hours in the user's time zone (default
22:00-08:00); 3 outreaches already sent this local day; the last one less than 4 hours ago; a decline, or an
outreach left unanswered for 4 hours, less than 24 hours ago.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from typing_extensions import TypedDict

from companion.core.personality.needs import PROACTIVE_WEIGHT
from companion.core.personality.needs import TRIGGER_THRESHOLD as NEED_TRIGGER_THRESHOLD

NEED_WEIGHT, TIMING_WEIGHT, PATTERN_WEIGHT = 0.4, 0.25, 0.35
THRESHOLD = 0.6
NEED_TYPE_WEIGHTS = {"social": 0.35, "validation": 0.25, "intellectual": 0.20, "creative": 0.15, "rest": 0.05}
OTHER_NEED_WEIGHT = 0.1
PERSONALITY_WEIGHTS = {
    "extraversion": 0.3,
    "openness": 0.2,
    "agreeableness": 0.1,
    "conscientiousness": -0.1,
    "neuroticism": 0.15,
}
MIN_PERSONALITY_FACTOR, MAX_PERSONALITY_FACTOR = 0.3, 1.7
RECENT_CONTACT_WINDOW_HOURS = 12.0

MAX_PER_DAY = 3
#: Messages of history the optimal-time prediction needs (the seed's 10).
MIN_MESSAGES_TO_PREDICT = 10
MIN_GAP_HOURS = 4.0
SILENCE_AFTER_DECLINE_HOURS = 24.0
IGNORED_AFTER_HOURS = 4.0
#: Messages further apart than this start a new conversation (for engagement and initiation).
SESSION_GAP_SECONDS = 30 * 60.0
#: A conversation starting this soon after an outreach answers it.
ANSWER_WINDOW_SECONDS = IGNORED_AFTER_HOURS * 3600.0
HISTORY_DAYS = 30
PATTERN_DAYS = 7

_HOUR = 3600.0
_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class PersonalitySignals:
    """What the score needs from the companion's personality for one user: needs, Big Five traits, mood."""

    needs: dict[str, float] = field(default_factory=dict)
    traits: dict[str, float] | None = None
    pad: tuple[float, float, float] | None = None


#: Reads a user's personality signals at a time: ``(user_id, persona, now) -> signals`` (``None``: none yet).
PersonalityReader = Callable[[str, str, float], Awaitable[PersonalitySignals | None]]


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    """``value`` limited to [low, high]."""
    return max(low, min(high, value))


# -- components ----------------------------------------------------------------------------------------------
def need_weight(need: str, proactive_weights: Mapping[str, float] = PROACTIVE_WEIGHT) -> float:
    """A need's weight in the outreach score: the seed's weight for its type × its own ``proactive_weight``."""
    return NEED_TYPE_WEIGHTS.get(need, OTHER_NEED_WEIGHT) * proactive_weights.get(need, 1.0)


def need_urgency(
    needs: Mapping[str, float],
    *,
    threshold: float = NEED_TRIGGER_THRESHOLD,
    proactive_weights: Mapping[str, float] = PROACTIVE_WEIGHT,
) -> float:
    """Weighted urgency of the needs at or above their trigger threshold, capped at 1 (:func:`need_weight`)."""
    total = 0.0
    for need, level in needs.items():
        if level >= threshold:
            urgency = (level - threshold) / (1.0 - threshold) if threshold < 1.0 else 1.0
            total += urgency * need_weight(need, proactive_weights)
    return min(1.0, total)


def most_urgent_need(
    needs: Mapping[str, float], proactive_weights: Mapping[str, float] = PROACTIVE_WEIGHT
) -> str | None:
    """The need with the highest level at or above the threshold, if any.

    Needs at the same level are told apart by their weight in the outreach score (social before validation before
    intellectual...), not by their names.
    """
    urgent = [need for need, level in needs.items() if level >= NEED_TRIGGER_THRESHOLD]
    if not urgent:
        return None
    return max(urgent, key=lambda need: (needs[need], need_weight(need, proactive_weights), need))


@dataclass(frozen=True, slots=True)
class ActivityProfile:
    """A user's last 30 days of messages, as the score needs them (local time)."""

    hourly: tuple[float, ...]  # 24 values, busiest hour = 1
    weekly: tuple[float, ...]  # 7 values (Monday first), busiest day = 1
    messages: int
    sessions_7d: int
    avg_session_length_7d: float
    answered_outreaches_7d: int
    outreaches_7d: int
    user_started_sessions_7d: int


def activity_profile(
    message_times: Sequence[float], outreach_times: Sequence[float], *, timezone: str, now: float
) -> ActivityProfile:
    """Histograms and conversation statistics from message and outreach times (epoch seconds)."""
    zone = ZoneInfo(timezone)
    recent = sorted(t for t in message_times if now - HISTORY_DAYS * _DAY <= t <= now)
    hourly, weekly = [0] * 24, [0] * 7
    for at in recent:
        local = datetime.fromtimestamp(at, zone)
        hourly[local.hour] += 1
        weekly[local.weekday()] += 1
    week = [t for t in recent if now - t <= PATTERN_DAYS * _DAY]
    starts: list[float] = []
    lengths: list[int] = []
    previous = 0.0
    for at in week:
        if not starts or at - previous > SESSION_GAP_SECONDS:
            starts.append(at)
            lengths.append(0)
        lengths[-1] += 1
        previous = at
    outreaches = sorted(t for t in outreach_times if now - PATTERN_DAYS * _DAY <= t <= now)
    answered = sum(1 for sent in outreaches if any(sent <= start <= sent + ANSWER_WINDOW_SECONDS for start in starts))
    answering_starts = sum(
        1 for start in starts if any(sent <= start <= sent + ANSWER_WINDOW_SECONDS for sent in outreaches)
    )
    return ActivityProfile(
        hourly=tuple(_normalised(hourly)),
        weekly=tuple(_normalised(weekly)),
        messages=len(recent),
        sessions_7d=len(starts),
        avg_session_length_7d=(sum(lengths) / len(lengths)) if lengths else 0.0,
        answered_outreaches_7d=answered,
        outreaches_7d=len(outreaches),
        user_started_sessions_7d=len(starts) - answering_starts,
    )


def _normalised(counts: list[int]) -> list[float]:
    top = max(counts)
    return [count / top for count in counts] if top else [0.5] * len(counts)


def clock_modifier(local: datetime) -> float:
    """The seed's modifiers for the user's local clock.

    Asleep (23:00-07:59) ×0.2, a weekend afternoon (12-18) ×1.2, weekday work hours (9-17) ×0.8.
    """
    hour, day = local.hour, local.weekday()
    if hour >= 23 or hour <= 7:
        return 0.2
    if day >= 5 and 12 <= hour <= 18:
        return 1.2
    if day < 5 and 9 <= hour <= 17:
        return 0.8
    return 1.0


def timing_score(profile: ActivityProfile, local: datetime, hours_since_message: float | None) -> float:
    """How good this local hour and weekday are for the user.

    The user's own activity, then the seed's clock modifiers; lowered right after and long after their last message.
    """
    base = (0.7 * profile.hourly[local.hour] + 0.3 * profile.weekly[local.weekday()]) * clock_modifier(local)
    if hours_since_message is not None:
        if hours_since_message < 4:
            penalty = (4 - hours_since_message) / 4 * 0.5
        elif hours_since_message > 72:
            penalty = min(0.8, (hours_since_message - 72) / 168 * 0.5)
        else:
            penalty = 0.0
        base *= 1 - penalty
    return clamp(base)


def next_good_time(
    profile: ActivityProfile, local: datetime, hours_since_message: float | None, *, threshold: float = 0.7
) -> datetime | None:
    """The best local hour of the next 48 whose predicted timing score is above ``threshold``, if any.

    As the seed's optimal-window prediction: needs at least 10 messages of history to predict from.
    """
    if profile.messages < MIN_MESSAGES_TO_PREDICT:
        return None
    best, best_score = None, threshold
    start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)  # whole hours, across DST changes
    for ahead in range(1, 49):
        at = (start + timedelta(hours=ahead)).astimezone(local.tzinfo)
        since = None if hours_since_message is None else hours_since_message + ahead
        predicted = timing_score(profile, at, since)
        if predicted > best_score:
            best, best_score = at, predicted
    return best


def time_gap_factor(hours_since_message: float) -> float:
    """1 for a 12-48 hour gap, scaled down when more recent, rising to 1.2 after a week."""
    if 12 <= hours_since_message <= 48:
        return 1.0
    if hours_since_message < 12:
        return hours_since_message / 12
    return min(1.2, 1.0 + ((hours_since_message - 48) / 120) * 0.2)


def interaction_pattern_score(profile: ActivityProfile, hours_since_message: float | None) -> float:
    """Response rate, engagement, time gap and initiation balance over the last 7 days."""
    if profile.messages == 0 or hours_since_message is None:
        return 0.5
    response_rate = profile.answered_outreaches_7d / profile.outreaches_7d if profile.outreaches_7d else 0.5
    engagement = min(1.0, profile.avg_session_length_7d / 10)
    started = profile.user_started_sessions_7d + profile.outreaches_7d
    initiation = profile.user_started_sessions_7d / started if started else 0.5
    score = 0.4 * response_rate + 0.3 * engagement + 0.2 * time_gap_factor(hours_since_message)
    return clamp(score + 0.1 * (1.5 - initiation))


def personality_factor(traits: Mapping[str, float] | None, pad: tuple[float, float, float] | None) -> float:
    """Big Five weights and the current mood (PAD), in [0.3, 1.7]; 1 with no personality."""
    if traits is None:
        return 1.0
    factor = 1.0 + sum((traits.get(trait, 0.5) - 0.5) * weight for trait, weight in PERSONALITY_WEIGHTS.items())
    if pad is not None:
        pleasure, arousal, dominance = pad
        factor *= (0.8 + pleasure * 0.3) * (1.0 - abs(arousal) * 0.2) * (0.9 + dominance * 0.2)
    return clamp(factor, MIN_PERSONALITY_FACTOR, MAX_PERSONALITY_FACTOR)


def recent_contact_penalty(hours_since_outreach: float | None) -> float:
    """1 right after an outreach, falling to 0 over 12 hours."""
    if hours_since_outreach is None:
        return 0.0
    return clamp(1.0 - hours_since_outreach / RECENT_CONTACT_WINDOW_HOURS)


class ScoreData(TypedDict):
    """:meth:`ProactiveScore.to_dict`: the components rounded to four places, the trigger and the decision."""

    need: float
    timing: float
    pattern: float
    base: float
    personality_factor: float
    recent_contact_penalty: float
    final: float
    trigger: str
    should_reach_out: bool


@dataclass(frozen=True, slots=True)
class ProactiveScore:
    """Every component of a score, and the decision."""

    need: float
    timing: float
    pattern: float
    base: float
    personality_factor: float
    recent_contact_penalty: float
    final: float
    trigger: str
    should_reach_out: bool

    def to_dict(self) -> ScoreData:
        """A JSON-able dict (rounded)."""
        return cast(ScoreData, {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()})


def combine(
    *, need: float, timing: float, pattern: float, factor: float, penalty: float, threshold: float = THRESHOLD
) -> ProactiveScore:
    """The weighted score, the personality factor and the penalty, with the primary trigger."""
    base = NEED_WEIGHT * need + TIMING_WEIGHT * timing + PATTERN_WEIGHT * pattern
    final = clamp(base * factor * (1.0 - penalty))
    weighted = {
        "need_urgency": NEED_WEIGHT * need,
        "timing_optimal": TIMING_WEIGHT * timing,
        "interaction_pattern": PATTERN_WEIGHT * pattern,
    }
    trigger = max(weighted, key=lambda key: weighted[key])
    return ProactiveScore(need, timing, pattern, base, factor, penalty, final, trigger, final >= threshold)


# -- guardrails ----------------------------------------------------------------------------------------------
def in_quiet_hours(hour: int, start: int, end: int) -> bool:
    """Whether a local hour falls in [start, end) (wrapping past midnight when start > end)."""
    if start == end:
        return False
    return start <= hour < end if start < end else hour >= start or hour < end


def guardrail(
    *,
    now: float,
    timezone: str,
    quiet_start: int,
    quiet_end: int,
    opt_out: bool,
    sent: Sequence[float],
    declined_at: float | None,
    last_message_at: float | None,
    max_per_day: int = MAX_PER_DAY,
) -> str | None:
    """Why an outreach may not go out now, or ``None`` if it may (at most ``max_per_day`` a local day)."""
    if opt_out:
        return "opted out"
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now, zone)
    if in_quiet_hours(local.hour, quiet_start, quiet_end):
        return f"quiet hours ({quiet_start:02d}:00-{quiet_end:02d}:00 {timezone})"
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    today = [t for t in sent if midnight <= t <= now]
    if len(today) >= max_per_day:
        return f"already {len(today)} outreaches today (max {max_per_day})"
    last = max(sent) if sent else None
    if last is not None and now - last < MIN_GAP_HOURS * _HOUR:
        return f"last outreach {(now - last) / _HOUR:.1f} h ago (min {MIN_GAP_HOURS:g} h apart)"
    if declined_at is not None and now - declined_at < SILENCE_AFTER_DECLINE_HOURS * _HOUR:
        return f"declined {(now - declined_at) / _HOUR:.1f} h ago (silent for {SILENCE_AFTER_DECLINE_HOURS:g} h)"
    if last is not None and (last_message_at is None or last_message_at < last):
        ignored_at = last + IGNORED_AFTER_HOURS * _HOUR
        if ignored_at <= now < ignored_at + SILENCE_AFTER_DECLINE_HOURS * _HOUR:
            return f"last outreach ignored (silent until {SILENCE_AFTER_DECLINE_HOURS:g} h after it went unanswered)"
    return None


def local_time(now: float, timezone: str) -> datetime:
    """``now`` in the user's time zone."""
    return datetime.fromtimestamp(now, ZoneInfo(timezone))
