"""Pure logic of reflection and proactive outreach, on the design seed's numbers."""

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tools.proactive import (
    ActivityProfile,
    activity_profile,
    combine,
    guardrail,
    in_quiet_hours,
    interaction_pattern_score,
    need_urgency,
    next_good_time,
    personality_factor,
    recent_contact_penalty,
    time_gap_factor,
    timing_score,
)
from tools.reflection import (
    MemoryFacts,
    Strategy,
    choose_strategy,
    cluster_by_similarity,
    is_faded,
    is_summary,
    local_contradiction,
    most_central,
    resolve,
    retention,
    scale_importance,
    stability_days,
    summary_id,
)

DAY, HOUR = 86_400.0, 3600.0
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC, a Thursday


# -- reflection ----------------------------------------------------------------------------------------------
def unit(*components: float) -> list[float]:
    vector = np.asarray(components, dtype=np.float32)
    return list(vector / np.linalg.norm(vector))


def test_clustering_groups_rows_at_least_0_7_similar_to_the_first_and_leaves_the_rest() -> None:
    rows = [unit(1, 0, 0), unit(1, 0.3, 0), unit(0, 1, 0), unit(1, 0.5, 0), unit(0, 1, 0.2)]
    assert cluster_by_similarity(np.asarray(rows)) == [[0, 1, 3], [2, 4]]


def test_clustering_caps_a_cluster_at_max_size_keeping_the_most_similar() -> None:
    rows = [unit(1, 0)] + [unit(1, 0.01 * i) for i in range(1, 6)]
    clusters = cluster_by_similarity(np.asarray(rows), max_size=3)
    assert clusters[0] == [0, 1, 2] and sorted(i for c in clusters for i in c) == list(range(6))


def test_the_most_central_memory_is_the_one_nearest_the_rest() -> None:
    vectors = np.asarray([unit(1, 0.0), unit(1, 0.5), unit(0.6, 1)])  # edge, centre, edge
    assert most_central(vectors) == 1
    assert most_central(vectors[[1, 0, 2]]) == 0  # follows the memory, not the position


def test_a_summary_id_depends_on_its_sources_not_their_order() -> None:
    first = summary_id(["m2", "m1", "m3"])
    assert first == summary_id(["m1", "m2", "m3"]) and first != summary_id(["m1", "m2"])
    assert is_summary(first) and not is_summary("m1")


def test_importance_is_scaled_on_the_seed_scale_within_100_900() -> None:
    assert scale_importance(500, 1.3) == 650  # the consolidation boost
    assert scale_importance(500, 0.7) == 350 and isinstance(scale_importance(500, 0.7), int)
    assert scale_importance(800, 1.3) == 900 and scale_importance(100, 0.5) == 100


@pytest.mark.parametrize(
    ("first", "second", "rule"),
    [
        ("My favourite colour is blue", "My favorite colour is green", "slot"),
        ("My dog's name is Rex", "my dog is called Bolt", "slot"),
        ("I work at Google", "I work for Microsoft", "slot"),
        ("I am 31 years old", "I'm 32 years old", "slot"),
        ("I love jazz", "I hate jazz music", "preference"),
        ("I eat meat every day", "I don't eat meat every day", "negation"),
    ],
)
def test_local_contradiction_rules(first: str, second: str, rule: str) -> None:
    found = local_contradiction(first, second)
    assert found is not None and found.rule == rule


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("I live in Berlin now", "I moved to Berlin last month"),
        ("I live in Paris", "I live in Paris with my wife"),
        ("I like tea", "I like tea a lot"),
        ("I went running in the park", "This morning I went for a run in the park"),
    ],
)
def test_agreeing_statements_are_not_contradictions(first: str, second: str) -> None:
    assert local_contradiction(first, second) is None


def test_strategy_choice_and_the_seed_factors() -> None:
    old, new = MemoryFacts("a", 500, T0), MemoryFacts("b", 500, T0 + 2 * DAY)
    assert choose_strategy(old, new, 0.8) is Strategy.TEMPORAL_PRECEDENCE
    assert resolve(old, new, Strategy.TEMPORAL_PRECEDENCE).after == 350  # older × 0.7
    strong, weak = MemoryFacts("a", 800, T0), MemoryFacts("b", 400, T0 + HOUR)
    assert choose_strategy(strong, weak, 0.8) is Strategy.CONFIDENCE_BASED
    decision = resolve(strong, weak, Strategy.CONFIDENCE_BASED)
    assert decision.loser_id == "b" and decision.after == 200  # weaker × 0.5
    assert choose_strategy(old, MemoryFacts("c", 500, T0 + HOUR), 0.8) is Strategy.USER_CLARIFICATION
    assert choose_strategy(old, new, 0.5) is Strategy.USER_CLARIFICATION


def test_forgetting_curve_numbers() -> None:
    assert stability_days(500, 0) == pytest.approx(21.0)  # 7 × (1 + 4 × 0.5)
    assert stability_days(500, 2) == pytest.approx(84.0)  # doubled per recall
    assert retention(importance=500, recall_count=0, reinforced_at=T0, now=T0 + 21 * DAY) == pytest.approx(math.exp(-1))
    assert retention(importance=500, recall_count=0, reinforced_at=T0, now=T0) == 1.0
    assert is_faded(retention_value=0.04, importance=300, recall_count=0)
    assert not is_faded(retention_value=0.04, importance=500, recall_count=0)  # medium importance stays
    assert not is_faded(retention_value=0.04, importance=300, recall_count=1)  # recalled once stays
    assert not is_faded(retention_value=0.06, importance=300, recall_count=0)


# -- proactive -----------------------------------------------------------------------------------------------
def test_need_urgency_uses_threshold_excess_and_need_weights() -> None:
    assert need_urgency({"social": 0.7, "rest": 0.5}) == 0.0
    assert need_urgency({"social": 1.0}) == pytest.approx(0.35)
    assert need_urgency({"social": 0.9, "validation": 1.0}) == pytest.approx(0.5 * 0.35 + 0.25)


def test_score_weights_personality_factor_and_penalty() -> None:
    score = combine(need=1.0, timing=1.0, pattern=1.0, factor=1.0, penalty=0.0)
    assert score.base == pytest.approx(1.0) and score.should_reach_out
    score = combine(need=0.5, timing=0.8, pattern=0.6, factor=1.2, penalty=0.25)
    assert score.base == pytest.approx(0.2 + 0.2 + 0.21)
    assert score.final == pytest.approx(0.61 * 1.2 * 0.75) and not score.should_reach_out
    assert score.trigger == "interaction_pattern"
    assert combine(need=0.0, timing=1.0, pattern=0.0, factor=1.0, penalty=0.0).trigger == "timing_optimal"


def test_personality_factor_is_bounded_and_neutral_without_personality() -> None:
    assert personality_factor(None, None) == 1.0
    neutral = dict.fromkeys(["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"], 0.5)
    assert personality_factor(neutral, None) == 1.0
    outgoing = neutral | {"extraversion": 1.0, "openness": 1.0}
    assert personality_factor(outgoing, None) == pytest.approx(1.25)
    assert personality_factor(outgoing, (1.0, 0.0, 1.0)) == pytest.approx(1.25 * 1.1 * 1.1)
    assert personality_factor(neutral, (-0.5, 0.0, 0.0)) == pytest.approx(0.65 * 0.9)
    assert personality_factor(neutral, (-1.0, 1.0, -1.0)) == 0.3  # 0.5 × 0.8 × 0.7 = 0.28, clamped
    very_outgoing = dict.fromkeys(outgoing, 1.0) | {"conscientiousness": 0.0}
    assert personality_factor(very_outgoing, (1.0, 0.0, 1.0)) == pytest.approx(min(1.7, 1.425 * 1.21))


def test_timing_and_gap_factors() -> None:
    assert time_gap_factor(6) == 0.5 and time_gap_factor(24) == 1.0 and time_gap_factor(168) == pytest.approx(1.2)
    assert recent_contact_penalty(None) == 0.0 and recent_contact_penalty(3) == pytest.approx(0.75)
    assert recent_contact_penalty(12) == 0.0
    profile = activity_profile([T0 + 18 * HOUR, T0 + DAY + 18 * HOUR], [], timezone="UTC", now=T0 + 2 * DAY)
    evening = datetime(2026, 1, 2, 18, tzinfo=ZoneInfo("UTC"))
    assert timing_score(profile, evening, 24) == pytest.approx(0.7 + 0.3)
    assert timing_score(profile, evening, 2) == pytest.approx(1.0 * 0.75)
    assert timing_score(profile, evening.replace(hour=9), 24) == pytest.approx(0.3 * 0.8)  # a weekday work hour
    assert timing_score(profile, evening.replace(hour=2), 24) == pytest.approx(0.3 * 0.2)  # asleep
    saturday = datetime(2026, 1, 3, 18, tzinfo=ZoneInfo("UTC"))
    assert timing_score(profile, saturday, 24) == pytest.approx((0.7 * 1.0 + 0.3 * 0.0) * 1.2)  # weekend afternoon


def test_the_next_good_time_is_the_users_own_hour_not_while_asleep() -> None:
    evenings = [T0 + day * DAY + 19 * HOUR + minute * 60 for day in range(6) for minute in (0, 5)]  # 12 messages
    profile = activity_profile(evenings, [], timezone="UTC", now=T0 + 6 * DAY)
    morning = datetime.fromtimestamp(T0 + 6 * DAY + 8 * HOUR, ZoneInfo("UTC"))
    best = next_good_time(profile, morning, 13.0)
    assert best is not None and best.hour == 19 and best > morning
    assert next_good_time(activity_profile(evenings[:9], [], timezone="UTC", now=T0 + 6 * DAY), morning, 13.0) is None


def test_interaction_pattern_counts_answered_outreaches_and_conversations() -> None:
    sent = [T0 + 10 * HOUR]
    messages = [T0 + 11 * HOUR + i * 60 for i in range(10)] + [T0 + 30 * HOUR]
    profile = activity_profile(messages, sent, timezone="UTC", now=T0 + 2 * DAY)
    assert profile.outreaches_7d == 1 and profile.answered_outreaches_7d == 1
    assert profile.sessions_7d == 2 and profile.user_started_sessions_7d == 1
    hours = (2 * DAY - 30 * HOUR) / HOUR
    initiation = 1 / 2
    expected = 0.4 * 1.0 + 0.3 * min(1.0, 5.5 / 10) + 0.2 * time_gap_factor(hours) + 0.1 * (1.5 - initiation)
    assert interaction_pattern_score(profile, hours) == pytest.approx(min(1.0, expected))
    empty = ActivityProfile((0.5,) * 24, (0.5,) * 7, 0, 0, 0.0, 0, 0, 0)
    assert interaction_pattern_score(empty, None) == 0.5


def test_quiet_hours_wrap_midnight() -> None:
    assert in_quiet_hours(23, 22, 8) and in_quiet_hours(3, 22, 8) and not in_quiet_hours(8, 22, 8)
    assert in_quiet_hours(13, 12, 14) and not in_quiet_hours(14, 12, 14) and not in_quiet_hours(5, 0, 0)


def guard(now: float, **kwargs: object) -> str | None:
    values: dict = {
        "timezone": "UTC",
        "quiet_start": 22,
        "quiet_end": 8,
        "opt_out": False,
        "sent": [],
        "declined_at": None,
        "last_message_at": None,
    }
    return guardrail(now=now, **(values | kwargs))


def test_every_guardrail() -> None:
    noon = T0 + 12 * HOUR
    assert guard(noon) is None
    assert guard(noon, opt_out=True) == "opted out"
    assert "quiet hours" in str(guard(T0 + 23 * HOUR))
    # 09:00 in Tokyo is midnight UTC: quiet hours follow the user's zone
    assert guard(T0, timezone="Asia/Tokyo") is None and "quiet" in str(guard(T0 + 14 * HOUR, timezone="Asia/Tokyo"))
    three = [T0 + 8 * HOUR, T0 + 12 * HOUR, T0 + 16 * HOUR]
    assert "max 3" in str(guard(T0 + 21 * HOUR, sent=three, last_message_at=T0 + 20 * HOUR))
    assert "min 4 h" in str(guard(noon, sent=[noon - 3 * HOUR], last_message_at=noon - HOUR))
    assert guard(noon, sent=[noon - 5 * HOUR], last_message_at=noon - HOUR) is None  # answered, 5 h ago
    assert "ignored" in str(guard(noon, sent=[noon - 5 * HOUR], last_message_at=noon - 6 * HOUR))
    assert guard(noon + DAY, sent=[noon - 5 * HOUR], last_message_at=None) is None  # silence over after 28 h
    assert "declined" in str(guard(noon, declined_at=noon - 23 * HOUR))
    assert guard(noon, declined_at=noon - 25 * HOUR) is None
