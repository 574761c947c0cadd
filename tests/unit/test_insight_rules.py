"""What reflection notices, on numbers worked out by hand: recurring topics, the mood trend, changes, and the words."""

from datetime import date, timedelta

import pytest

from tools.reflection import (
    MIN_MESSAGES_FOR_INSIGHT,
    Observed,
    Update,
    analyse,
    changes_between,
    daily_moods,
    insight_id,
    insight_kind,
    insight_sources,
    insight_texts,
    key_terms,
    local_days,
    mood_trend,
    mood_value,
    recurring_topics,
    report_lines,
)

D0 = date(2026, 1, 1)


def said(text: str, day: int, *, emotion: str = "neutral", intensity: int = 0, tags: tuple[str, ...] = ()) -> Observed:
    return Observed(f"{text}@{day}", D0 + timedelta(days=day), text, tags, emotion, intensity)


def week(moods: list[tuple[str, int]]) -> list[Observed]:
    return [said(f"message {day}", day, emotion=e, intensity=i) for day, (e, i) in enumerate(moods)]


# -- mood ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("emotion", "intensity", "sentiment", "value"),
    [
        ("happiness", 80, "neutral", 0.8),
        ("love", 100, "neutral", 1.0),
        ("sadness", 40, "neutral", -0.4),
        ("panic", 120, "neutral", -1.0),  # clamped to the 0-100 scale
        ("neutral", 90, "negative", 0.0),  # perceived as neutral: the sentiment does not override it
        ("", 0, "positive", 0.5),  # never perceived: its sentiment, at half strength
        ("", 0, "negative", -0.5),
        ("", 0, "mixed", 0.0),
    ],
)
def test_the_mood_of_a_message_is_its_felt_emotions_intensity_with_its_sign(
    emotion: str, intensity: int, sentiment: str, value: float
) -> None:
    assert mood_value(emotion, intensity, sentiment) == pytest.approx(value)


def test_sad_to_happy_over_five_days_is_improving_with_slope_0_4_a_day() -> None:
    # daily means -0.8, -0.4, 0, 0.4, 0.8 on days 0..4: slope 0.4, fitted change 0.4 × 4 = 1.6
    trend = mood_trend(week([("sadness", 80), ("sadness", 40), ("neutral", 0), ("happiness", 40), ("happiness", 80)]))
    assert trend is not None and trend.direction == "improving"
    assert trend.slope == pytest.approx(0.4) and trend.change == pytest.approx(1.6) and trend.mean == pytest.approx(0)
    assert [d.emotion for d in trend.days] == ["sadness", "sadness", "", "happiness", "happiness"]


def test_happy_to_sad_is_worsening_and_a_level_week_is_steady() -> None:
    worsening = mood_trend(week([("happiness", 60), ("happiness", 30), ("sadness", 30)]))
    assert worsening is not None and worsening.direction == "worsening"
    assert worsening.slope == pytest.approx(-0.45) and worsening.change == pytest.approx(-0.9)
    steady = mood_trend(week([("happiness", 30), ("happiness", 40), ("happiness", 30), ("happiness", 40)]))
    assert steady is not None and steady.direction == "steady" and steady.mean == pytest.approx(0.35)


def test_a_change_just_under_the_threshold_is_steady_and_just_over_it_is_a_trend() -> None:
    # days 0 and 2 at 0 and 0.19 / 0.21, day 1 between: fitted change 0.19 (steady) or 0.21 (improving)
    below = mood_trend(week([("neutral", 0), ("happiness", 10), ("happiness", 19)]))
    above = mood_trend(week([("neutral", 0), ("happiness", 10), ("happiness", 21)]))
    assert below is not None and below.direction == "steady" and below.change == pytest.approx(0.19)
    assert above is not None and above.direction == "improving" and above.change == pytest.approx(0.21)


def test_each_day_counts_once_however_many_messages_it_has() -> None:
    busy_sad_day = [said(f"down {n}", 0, emotion="sadness", intensity=40) for n in range(10)]
    days = daily_moods([*busy_sad_day, said("up", 1, emotion="happiness", intensity=40)])
    assert [(d.messages, d.mood) for d in days] == [(10, pytest.approx(-0.4)), (1, pytest.approx(0.4))]


def test_no_trend_from_fewer_than_three_days_with_messages() -> None:
    assert mood_trend(week([("sadness", 80), ("happiness", 80)])) is None
    two_days_many_messages = [said(f"m{n}", n % 2, emotion="happiness", intensity=50) for n in range(8)]
    assert mood_trend(two_days_many_messages) is None


def test_gaps_between_days_count_as_days() -> None:
    # days 0, 1 and 6 at 0, 0 and 0.7: x̄ = 7/3, slope = (6 - 7/3) × 0.7 / ((49 + 16 + 121) / 9) ≈ 0.124 a day,
    # fitted change 0.745 over the 6 days (a late rise spread over the gap, not squeezed into three days)
    trend = mood_trend([said("a", 0), said("b", 1), said("c", 6, emotion="happiness", intensity=70)])
    assert trend is not None and trend.direction == "improving"
    assert trend.slope == pytest.approx((11 / 3) * 0.7 / (186 / 9))
    assert trend.change == pytest.approx(6 * (11 / 3) * 0.7 / (186 / 9))


# -- topics --------------------------------------------------------------------------------------------------------
def test_a_topic_on_four_different_days_is_recurring_and_one_mentioned_once_is_not() -> None:
    messages = [said(f"Played the cello ({n})", n) for n in range(4)]
    messages += [said("Cello twice today", 3), said("I ran a marathon", 4)]
    topics = {t.name: t for t in recurring_topics(messages)}
    assert (topics["cello"].days, topics["cello"].mentions) == (4, 5)
    assert topics["cello"].first_day == D0 and topics["cello"].last_day == D0 + timedelta(days=3)
    assert "marathon" not in topics


def test_a_topic_on_two_days_is_not_recurring_but_on_three_it_is() -> None:
    assert recurring_topics([said("the garden", 0), said("the garden", 1), said("the garden", 1)]) == []
    [garden] = recurring_topics([said("the garden", 0), said("the garden", 1), said("the garden", 5)])
    assert garden.name == "garden" and garden.days == 3


def test_topic_tags_count_like_terms_and_win_a_tie_of_names() -> None:
    messages = [said(f"note {n}", n, tags=("work",)) for n in range(3)] + [said("work work", 3)]
    [work] = [t for t in recurring_topics(messages) if t.name == "work"]
    assert work.kind == "tag" and work.days == 4


def test_topics_are_ordered_by_days_then_mentions_and_capped_at_five() -> None:
    messages = [said(f"alpha bravo charlie delta echo foxtrot golf ({n})", n) for n in range(3)]
    messages.append(said("golf golf", 4))
    names = [t.name for t in recurring_topics(messages)]
    assert names[0] == "golf" and len(names) == 5


def test_key_terms_leave_out_filler_and_keep_names_written_with_a_capital() -> None:
    terms = key_terms("Today I talked with Noor about the move. Really tired, but Noor's cat is cute")
    assert terms == {"noor": "Noor", "move": "move", "cat": "cat", "cute": "cute"}
    assert key_terms("Guitar later") == {"guitar": "guitar"}  # a capital opening a sentence is no name


# -- changes -------------------------------------------------------------------------------------------------------
def test_a_topic_on_two_days_this_week_and_never_before_is_new_and_one_gone_is_no_longer_mentioned() -> None:
    before = [said("football with the team", 0), said("football again", 2), said("the garden", 3)]
    now = [said("pottery class", 7), said("pottery again", 9), said("the garden", 8), said("the garden", 10)]
    changes = changes_between(now, before)
    assert [t.name for t in changes.new_topics] == ["pottery"]  # the garden came up before; class on one day only
    assert [t.name for t in changes.gone_topics] == ["football"]  # the team on one day only: chance, not a subject
    assert changes.new_topics[0].days == 2 and changes.gone_topics[0].days == 2


def test_nothing_is_new_for_a_user_without_a_week_before() -> None:
    now = [said("pottery class", 7), said("pottery wheel", 9)]
    assert not changes_between(now, [])


def test_updated_facts_are_changes_newest_first_at_most_three() -> None:
    updates = [Update(f"o{n}", f"n{n}", f"old {n}", f"new {n}", D0 + timedelta(days=n)) for n in range(5)]
    changes = changes_between([said("x", 4)], [], updates)
    assert [u.new_id for u in changes.updates] == ["n4", "n3", "n2"]


# -- findings, words, ids ----------------------------------------------------------------------------------------
def test_the_period_is_the_seven_local_days_ending_with_the_runs_day() -> None:
    assert local_days(date(2026, 1, 7)) == (D0, date(2026, 1, 7))


def test_fewer_than_five_messages_give_no_insight_and_the_report_says_why() -> None:
    findings = analyse([said("cello", n) for n in range(MIN_MESSAGES_FOR_INSIGHT - 1)], [], day=D0 + timedelta(6))
    assert insight_texts(findings) == {}
    assert report_lines(findings)[-1] == "Too little to notice anything: at least 5 messages are needed."


def test_insights_are_worded_as_the_companions_own_dated_observations() -> None:
    moods = [("sadness", 80), ("sadness", 40), ("neutral", 0), ("happiness", 40), ("happiness", 80)]
    current = [said(f"More cello ({day})", day, emotion=e, intensity=i) for day, (e, i) in enumerate(moods)]
    before = [said("football", -7), said("football", -6)]
    update = Update("o", "n", "I work at Acme", "I work at Globex", D0 + timedelta(days=2))
    findings = analyse(current, before, [update], day=D0 + timedelta(days=4), excluded={"sealed": 2, "crisis": 0})

    texts = insight_texts(findings)

    assert texts["topics"] == "I noticed that over the 7 days to 2026-01-05 you kept coming back to cello (5 days)."
    assert texts["mood"] == (
        "I noticed that over the 7 days to 2026-01-05 your mood when we talked was improving, on a scale from -1 to "
        "+1: from -0.80 on 2026-01-01 (mostly sadness) to +0.80 on 2026-01-05 (mostly happiness), about +0.40 a day "
        "over 5 days with messages."
    )
    assert texts["changes"] == (
        "I noticed some changes over the 7 days to 2026-01-05 compared with the week before: new: cello (5 days); "
        "no longer mentioned: football; updated: \u201cI work at Acme\u201d became \u201cI work at Globex\u201d."
    )
    assert all(text.startswith("I noticed") for text in texts.values())
    assert "Left out (never summarised): 2 sealed." in report_lines(findings)
    sources = insight_sources(findings)
    assert set(sources["mood"]) == {m.id for m in current}
    assert {"o", "n"} <= set(sources["changes"]) and set(sources["topics"]) == {m.id for m in current}


def test_a_steady_mood_is_said_with_its_level() -> None:
    findings = analyse(week([("happiness", 30)] * 5), [], day=D0 + timedelta(days=4))
    assert (
        "your mood when we talked was steady, around +0.30 on a scale from -1 to +1" in insight_texts(findings)["mood"]
    )


def test_a_long_updated_fact_is_cut_in_the_quote() -> None:
    update = Update("o", "n", "word " * 40, "short", D0)
    findings = analyse(week([("neutral", 0)] * 5), [said("x", -7)], [update], day=D0 + timedelta(days=4))
    quoted = insight_texts(findings)["changes"].split("updated: ")[1]
    assert quoted.startswith("\u201cword word") and "\u2026\u201d became \u201cshort\u201d" in quoted


def test_insight_ids_are_fixed_per_user_day_and_kind() -> None:
    first = insight_id("alice", D0, "mood")
    assert first == insight_id("alice", D0, "mood") and first.startswith("ins-mood-") and len(first) <= 64
    assert len({first, insight_id("bob", D0, "mood"), insight_id("alice", D0 + timedelta(1), "mood")}) == 3
    assert insight_id("alice", D0, "topics") != first
    assert insight_kind(first) == "mood" and insight_kind("sem-abc") == "" and insight_kind("ins-dreams-1") == ""
