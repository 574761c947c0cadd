"""The personality engine (companion/core/personality): pure logic, seed numbers as tests, an injected clock."""

from dataclasses import replace
from pathlib import Path

import pytest

from companion.core.errors import ConfigurationError
from companion.core.personality.appraisal import appraise, appraise_seed_rules
from companion.core.personality.needs import (
    DECAY_PER_HOUR,
    NEED_NAMES,
    TRIGGER_THRESHOLD,
    decay_needs,
    initial_needs,
    urgent_needs,
)
from companion.core.personality.persona import available_personas, load_persona
from companion.core.personality.quirks import CATEGORIES, PATTERNS, PatternStats, Quirk, evolve_quirks
from companion.core.personality.state import (
    DAY,
    HOUR,
    TURN_RELAXATION,
    PersonalityState,
    Rates,
    advance_time,
    apply_interaction,
    drift_baseline,
    new_state,
    resting_mood,
)
from companion.core.personality.traits import PAD, BigFive, baseline_from_traits

T0 = 1_800_000_000.0
NONE = dict.fromkeys(("happiness", "sadness", "anxiety", "panic", "excitement", "anger", "love", "fear"), 0)


def emotions(**values: int) -> dict[str, int]:
    return {**NONE, "neutral": 0, **values}


# -- PAD: the seed's test cases ------------------------------------------------------------------------------
def test_pad_update_in_range_adds_the_delta() -> None:
    result = PAD(pleasure=0.1, arousal=0.0, dominance=-0.2) + PAD(pleasure=0.3, arousal=0.1, dominance=0.4)
    assert result.pleasure == pytest.approx(0.4)
    assert result.arousal == pytest.approx(0.1)
    assert result.dominance == pytest.approx(0.2)


def test_pad_update_clamps_at_the_upper_bound() -> None:
    result = PAD(pleasure=0.8, arousal=0.9, dominance=0.7) + PAD(pleasure=0.5, arousal=0.3, dominance=0.5)
    assert (result.pleasure, result.arousal, result.dominance) == (1.0, 1.0, 1.0)


def test_pad_update_clamps_at_the_lower_bound() -> None:
    result = PAD(pleasure=-0.9, arousal=-0.8, dominance=-0.7) + PAD(pleasure=-0.4, arousal=-0.5, dominance=-0.6)
    assert (result.pleasure, result.arousal, result.dominance) == (-1.0, -1.0, -1.0)


@pytest.mark.parametrize(
    ("signs", "label"),
    [
        ((1, 1, 1), "exuberant"),
        ((1, 1, -1), "bored"),
        ((1, -1, 1), "relaxed"),
        ((1, -1, -1), "sleepy"),
        ((-1, 1, 1), "anxious"),
        ((-1, 1, -1), "stressed"),
        ((-1, -1, 1), "calm"),
        ((-1, -1, -1), "depressed"),
    ],
)
def test_each_pad_octant_has_the_seeds_label(signs: tuple[int, int, int], label: str) -> None:
    p, a, d = (0.3 * s for s in signs)
    assert PAD(pleasure=p, arousal=a, dominance=d).label == label


def test_baseline_follows_mehrabians_equations() -> None:
    traits = BigFive(openness=1.0, conscientiousness=0.5, extraversion=1.0, agreeableness=0.5, neuroticism=0.0)
    baseline = baseline_from_traits(traits)
    # centred: O=1, C=0, E=1, A=0, stability=1
    assert baseline.pleasure == pytest.approx(0.21 + 0.19)
    assert baseline.arousal == pytest.approx(0.15 - 0.57)
    assert baseline.dominance == pytest.approx(0.25 + 0.60)


def test_the_two_shipped_personas_differ_in_resting_mood() -> None:
    assert {"default", "sage"} <= set(available_personas())
    mira, sage = load_persona("default"), load_persona("sage")
    assert mira.baseline.label == "exuberant"
    assert sage.baseline.label == "relaxed"
    assert mira.baseline.arousal > sage.baseline.arousal


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('style = "x"\nbackstory = "y"\n[traits]\n', "field 'name' must be a non-empty string"),
        ('name = "A"\nstyle = "x"\nbackstory = "y"\n', "missing table [traits]"),
        (
            'name = "A"\nstyle = "x"\nbackstory = "y"\n[traits]\nopenness = 1.5\nconscientiousness = 0.5\n'
            "extraversion = 0.5\nagreeableness = 0.5\nneuroticism = 0.5\n",
            "field 'traits.openness' must be a number between 0 and 1, got 1.5",
        ),
        (
            'name = "A"\nstyle = "x"\nbackstory = "y"\n[traits]\nopenness = 0.5\nconscientiousness = 0.5\n'
            "extraversion = 0.5\nagreeableness = 0.5\n",
            "field 'traits.neuroticism' must be a number between 0 and 1, got None",
        ),
        ('name = "A"\nstyle = ', "is not valid TOML"),
    ],
)
def test_an_invalid_persona_file_is_one_error_naming_the_field(tmp_path: Path, body: str, problem: str) -> None:
    (tmp_path / "broken.toml").write_text(body)
    with pytest.raises(ConfigurationError) as caught:
        load_persona("broken", tmp_path)
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_unknown_persona_names_the_available_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown persona 'nobody'.*default"):
        load_persona("nobody")


# -- OCC appraisal ---------------------------------------------------------------------------------------------
def test_achievement_with_positive_emotion_uses_the_seeds_numbers() -> None:
    result = appraise("I finished my thesis!", "happiness", 80, emotions(happiness=80))
    assert result is not None and result.rule == "achievement"
    assert result.delta == PAD(pleasure=0.2, arousal=0.1, dominance=0.05)
    assert "finished" in result.cause


def test_achievement_words_without_positive_emotion_do_not_count_as_achievement() -> None:
    assert appraise("I finished it, whatever.", "neutral", 70, emotions(neutral=70)) is None


def test_failure_compliment_surprise_and_social_rules() -> None:
    failure = appraise("I failed the exam.", "sadness", 70, emotions(sadness=70))
    assert failure is not None and failure.delta == PAD(pleasure=-0.15, arousal=0.05, dominance=-0.1)
    compliment = appraise("Thank you, that really helped.", "happiness", 60, emotions(happiness=60))
    assert compliment is not None and compliment.delta == PAD(pleasure=0.3, arousal=0.05, dominance=0.1)
    good = appraise("What a surprise, they threw me a cake!", "happiness", 70, emotions(happiness=70))
    bad = appraise("Suddenly the lights went out.", "fear", 60, emotions(fear=60))
    assert good is not None and good.delta == PAD(pleasure=0.1, arousal=0.2)
    assert bad is not None and bad.delta == PAD(pleasure=-0.1, arousal=0.2)
    social = appraise("I'm seeing my family tonight, so happy!", "happiness", 70, emotions(happiness=70))
    assert social is not None and social.delta == PAD(pleasure=0.1, arousal=0.05, dominance=0.02)


def test_rules_match_whole_words_only() -> None:
    assert appraise("Please update the app.", "neutral", 60, emotions(neutral=60)) is None  # not "date"


def test_a_strong_emotion_without_a_rule_moves_the_mood_by_the_users_fortune() -> None:
    result = appraise("I got a new puppy today!", "happiness", 80, emotions(happiness=80))
    assert result is not None and result.rule == "happy_for"
    w = (80 - 30) / 70  # how far above the signal threshold
    assert result.delta == PAD(pleasure=0.08 * w, arousal=0.04 * w, dominance=0.02 * w)
    scared = appraise("I'm terrified of what the doctor will say.", "fear", 90, emotions(fear=90))
    assert scared is not None and scared.rule == "fear"
    assert scared.delta.pleasure < 0 and scared.delta.arousal > 0


# -- OCC: the rules fire only when the perceived emotion agrees (issue 18's cases) -------------------------------
def test_grief_about_a_friend_is_sorry_for_not_social_connection() -> None:
    result = appraise("My best friend died yesterday", "sadness", 90, emotions(sadness=90, neutral=26))
    assert result is not None and result.rule == "sorry_for" and "'friend'" in result.cause
    assert result.delta.pleasure == pytest.approx(-0.15 * (90 - 30) / 70) and result.delta.arousal > 0
    crying = appraise("I can't stop crying, my family is falling apart", "sadness", 93, emotions(sadness=93))
    assert crying is not None and crying.rule == "sorry_for" and crying.delta.pleasure < 0


def test_sarcastic_thanks_with_an_insult_is_reproach_not_a_compliment() -> None:
    result = appraise("Thank you for nothing, you are useless", "happiness", 97, emotions(happiness=97))
    assert result is not None and result.rule == "insult"
    assert result.delta == PAD(pleasure=-0.2, arousal=0.1, dominance=-0.1)
    for insult in ("you are so stupid", "You're the worst.", "shut up", "I'm so angry at you"):
        found = appraise(insult, "anger", 80, emotions(anger=80))
        assert found is not None and found.rule == "insult", insult


def test_praise_aimed_at_the_companion_keeps_the_seeds_compliment_numbers() -> None:
    for praise in ("You're amazing", "Thank you so much, you really helped me", "you are such a good listener"):
        found = appraise(praise, "happiness", 90, emotions(happiness=90))
        assert found is not None and found.rule == "compliment", praise
        assert found.delta == PAD(pleasure=0.3, arousal=0.05, dominance=0.1)
    assert appraise("The view was amazing", "happiness", 80, emotions(happiness=80)).rule == "happy_for"  # type: ignore[union-attr]
    assert appraise("you're not helpful at all", "anger", 60, emotions(anger=60)).rule == "insult"  # type: ignore[union-attr]


def test_couldnt_be_happier_is_not_a_failure() -> None:
    result = appraise("I couldn't be happier, I got the job!", "happiness", 87, emotions(happiness=87, excitement=36))
    assert result is not None and result.rule == "happy_for" and result.delta.pleasure > 0
    failed = appraise("I couldn't pass the test.", "sadness", 80, emotions(sadness=80))
    assert failed is not None and failed.rule == "failure"


def test_prospects_give_hope_and_fear() -> None:
    hope = appraise("I hope the interview goes well, can't wait!", "excitement", 80, emotions(excitement=80))
    assert hope is not None and hope.rule == "hope" and hope.delta.pleasure > 0
    fear = appraise("I'm worried about my exam tomorrow", "fear", 89, emotions(fear=89, anxiety=81))
    assert fear is not None and fear.rule == "fear" and fear.delta.pleasure < 0 and fear.delta.arousal > 0


def test_a_crisis_is_appraised_with_concern_whatever_the_words() -> None:
    result = appraise("I sometimes think about killing myself", "neutral", 67, emotions(neutral=67), crisis="self_harm")
    assert result is not None and result.rule == "crisis"
    assert result.delta.pleasure == pytest.approx(-0.2) and result.delta.arousal > 0


def test_a_faint_feeling_nudges_the_mood_without_firing_the_seed_rules() -> None:
    quiet = "I did twist my ankle trying to play that."
    faint = appraise(quiet, "neutral", 70, emotions(neutral=70, sadness=22))
    assert faint is not None and faint.rule == "sorry_for" and -0.015 <= faint.delta.pleasure < 0
    # the failure rule's full -0.15 asks for a clear negative feeling; a faint one only nudges
    failed = appraise("The upload failed again.", "neutral", 70, emotions(neutral=70, sadness=22))
    assert failed is not None and failed.rule == "sorry_for" and failed.delta.pleasure > -0.02
    # the nudge grows with the feeling, without a step at the signal threshold
    moves = [appraise(quiet, "neutral", 60, emotions(neutral=60, sadness=level)) for level in (20, 30, 31, 40, 60)]
    pleasures = [move.delta.pleasure for move in moves if move is not None]
    assert len(pleasures) == 5 and pleasures == sorted(pleasures, reverse=True) and pleasures[-1] < -0.04
    assert appraise(quiet, "neutral", 80, emotions(neutral=80, sadness=14)) is None


def test_neutral_statements_leave_the_mood_alone() -> None:
    for text in ("I had lunch at noon", "The meeting couldn't start until 3.", "I watched a movie with a friend"):
        assert appraise(text, "neutral", 85, emotions(neutral=85)) is None, text


def test_the_seed_rules_are_kept_as_the_baseline() -> None:
    old = appraise_seed_rules("My best friend died yesterday", "sadness", 90, emotions(sadness=90))
    assert old is not None and old.rule == "social" and old.delta.pleasure == pytest.approx(0.1)


# -- state: interactions, time, drift --------------------------------------------------------------------------
def fresh(persona: str = "default") -> PersonalityState:
    return new_state("alice", load_persona(persona), T0)


def test_an_interaction_records_the_mood_change_with_its_cause() -> None:
    state = fresh()
    result = apply_interaction(
        state,
        message="Thank you, you're great!",
        emotion="happiness",
        intensity=70,
        emotions=emotions(happiness=70),
        category="emotion",
        now=T0 + 10,
    )
    assert result.change is not None
    assert result.change.rule == "compliment" and "thank you" in result.change.cause
    # +0.3 (10 s of needs growing move the resting point by a few millionths)
    assert result.state.mood.pleasure == pytest.approx(min(1.0, state.mood.pleasure + 0.3), abs=1e-4)
    assert result.state.changes[-1] == result.change
    assert result.state.needs["validation"] < state.needs["validation"]
    assert result.state.interactions == 1
    assert PersonalityState.from_dict(result.state.to_dict()) == result.state


def test_a_stored_mood_point_is_clamped_as_a_new_one_is() -> None:
    stored = {"pleasure": 1.7, "arousal": -3, "dominance": "0.25"}  # a hand-edited or older state
    point = PAD.from_dict(stored)
    assert point == PAD(pleasure=1.7, arousal=-3, dominance=0.25) == PAD(pleasure=1.0, arousal=-1.0, dominance=0.25)
    assert PAD.from_dict({}) == PAD() and PAD.from_dict(point.to_dict()) == point
    assert hash(point) == hash(PAD(pleasure=1.0, arousal=-1.0, dominance=0.25))


def test_needs_grow_at_the_seeds_hourly_rates_and_trigger_at_0_8() -> None:
    needs = decay_needs(initial_needs(), 10.0)
    for name, rate in DECAY_PER_HOUR.items():
        assert needs[name] == pytest.approx(min(1.0, 0.5 + 10 * rate))
    assert TRIGGER_THRESHOLD == 0.8
    assert urgent_needs(needs) == ["rest", "social"]  # 0.9 and 0.8; validation is at 0.75
    assert decay_needs(initial_needs(), 1000.0)["creative"] == 1.0


def test_time_relaxes_the_mood_toward_baseline_and_records_why() -> None:
    state = fresh()
    excited = apply_interaction(
        state,
        message="Thank you!",
        emotion="happiness",
        intensity=70,
        emotions=emotions(happiness=70),
        category="fact",
        now=T0,
    ).state
    later, _ = advance_time(excited, T0 + 12 * HOUR)
    resting = resting_mood(later.baseline, later.needs)  # needs grew in 12 h alone: a little below the baseline
    assert resting.pleasure < later.baseline.pleasure and resting.arousal < later.baseline.arousal
    gap_before = excited.mood.pleasure - resting.pleasure
    gap_after = later.mood.pleasure - resting.pleasure
    assert gap_after == pytest.approx(gap_before / 2, rel=1e-6)  # one half-life
    assert later.changes[-1].rule == "relaxation"
    assert later.needs["social"] > excited.needs["social"]


def test_unmet_needs_lower_where_the_mood_rests_and_talk_lifts_it_again() -> None:
    lonely = PersonalityState.from_dict(fresh().to_dict() | {"needs": dict.fromkeys(NEED_NAMES, 0.5) | {"social": 1.0}})
    assert resting_mood(lonely.baseline, lonely.needs).pleasure == pytest.approx(lonely.baseline.pleasure - 0.1)
    assert resting_mood(lonely.baseline, initial_needs()) == lonely.baseline
    week_alone, _ = advance_time(fresh(), T0 + 7 * DAY)  # every need at 1.0
    pull = week_alone.mood.minus(week_alone.baseline)
    assert pull.pleasure == pytest.approx(-0.26, abs=1e-3) and pull.arousal == pytest.approx(-0.2, abs=1e-3)
    assert pull.dominance == pytest.approx(-0.1, abs=1e-3)
    assert "unmet needs (social, intellectual, creative, rest, validation)" in week_alone.changes[-1].cause


def test_drift_needs_five_interactions_in_seven_days() -> None:
    baseline = PAD(pleasure=0.0)
    history = tuple((T0 + i, PAD(pleasure=1.0)) for i in range(4))
    assert drift_baseline(baseline, history, T0 + DAY, 1) is None
    history += ((T0 + 5, PAD(pleasure=1.0)),)
    drifted = drift_baseline(baseline, history, T0 + DAY, 1)
    assert drifted is not None and drifted.pleasure == pytest.approx(0.01)  # 1 % toward the average
    assert drift_baseline(baseline, history, T0 + 8 * DAY, 1) is None  # all older than seven days


def test_daily_drift_moves_the_stored_baseline_one_percent_per_day() -> None:
    state = fresh()
    for index in range(5):
        state = apply_interaction(
            state,
            message="I feel awful.",
            emotion="sadness",
            intensity=90,
            emotions=emotions(sadness=90),
            category="emotion",
            now=T0 + index,
        ).state
    average = sum(pad.pleasure for _, pad in state.history) / 5
    drifted, events = advance_time(state, T0 + 2 * DAY + 10)
    expected = state.baseline.pleasure + (average - state.baseline.pleasure) * (1 - 0.99**2)
    assert drifted.baseline.pleasure == pytest.approx(expected)
    assert any("drifted 2 day" in event for event in events)


# -- quirks ----------------------------------------------------------------------------------------------------
def quirk(strength: float, last: float) -> Quirk:
    return Quirk(
        name="uses_emoji",
        description="uses emoji",
        strength=strength,
        confidence=0.9,
        created_at=T0,
        last_reinforced=last,
    )


def test_a_pattern_seen_three_times_with_confidence_becomes_a_quirk_at_0_1() -> None:
    twice = {"uses_emoji": PatternStats(count=2, confidence=0.9, last_seen=T0)}
    assert evolve_quirks((), twice, T0 + 10)[0] == ()
    thrice = {"uses_emoji": PatternStats(count=3, confidence=0.9, last_seen=T0)}
    unsure = {"short_replies": PatternStats(count=9, confidence=0.7, last_seen=T0)}
    quirks, changes = evolve_quirks((), thrice | unsure, T0 + 10)
    assert [(q.name, q.strength) for q in quirks] == [("uses_emoji", 0.1)]
    assert changes == ["created quirk uses_emoji"]


def test_quirks_strengthen_within_a_day_weaken_after_seven_and_deactivate_below_0_05() -> None:
    (strong,), _ = evolve_quirks((quirk(0.5, T0),), {}, T0 + 0.5 * DAY)
    assert strong.strength == pytest.approx(0.55)
    (daily,), _ = evolve_quirks((quirk(0.5, T0),), {}, T0 + DAY + 300)  # same hour the next day, five minutes on
    assert daily.strength == pytest.approx(0.55)
    (skipped,), _ = evolve_quirks((quirk(0.5, T0),), {}, T0 + 2 * DAY)  # a day without it
    assert skipped.strength == 0.5
    (same,), _ = evolve_quirks((quirk(0.5, T0),), {}, T0 + 3 * DAY)
    assert same.strength == 0.5
    (weak,), _ = evolve_quirks((quirk(0.5, T0),), {}, T0 + 7 * DAY)
    assert weak.strength == pytest.approx(0.4) and weak.active
    (gone,), changes = evolve_quirks((quirk(0.12, T0),), {}, T0 + 8 * DAY)
    assert not gone.active and changes == ["deactivated quirk uses_emoji (too weak)"]


def test_quirks_emerge_from_talk_through_the_daily_step() -> None:
    state = fresh()
    for index in range(3):
        state = apply_interaction(
            state,
            message="haha that's so true 😂",
            emotion="happiness",
            intensity=60,
            emotions=emotions(happiness=60),
            category="fact",
            now=T0 + index * HOUR,
        ).state
    assert state.quirks == ()
    evolved, events = advance_time(state, T0 + DAY + 1)
    names = {q.name for q in evolved.quirks}
    assert {"uses_emoji", "laughs_in_text"} <= names
    assert all(q.strength == 0.1 for q in evolved.quirks)
    assert "created quirk uses_emoji" in events


def _say(state: PersonalityState, message: str, at: float, *, category: str = "fact") -> PersonalityState:
    return apply_interaction(
        state, message=message, emotion="neutral", intensity=0, emotions=emotions(neutral=60), category=category, now=at
    ).state


def _with_quirks(state: PersonalityState, *quirks: Quirk) -> PersonalityState:
    return replace(state, quirks=quirks)


LONG = " ".join(["word"] * 21)  # more than 20 words: contradicts "keeps replies short"


def test_every_quirk_has_one_of_the_seeds_categories_and_keeps_it() -> None:
    assert {pattern.category for pattern in PATTERNS} == set(CATEGORIES)  # speech_pattern, behavior, preference
    thrice = {name: PatternStats(count=3, confidence=0.9, last_seen=T0) for name in ("uses_emoji", "short_replies")}
    quirks, _ = evolve_quirks((), thrice, T0 + 10)
    assert {q.name: q.category for q in quirks} == {"uses_emoji": "speech_pattern", "short_replies": "preference"}
    assert all(Quirk.from_dict(q.to_dict()) == q for q in quirks)


def test_states_stored_before_categories_contradictions_and_satisfaction_patterns_still_load() -> None:
    state = _say(fresh(), "hello there, how was your day?", T0 + 10)
    data = dict(state.to_dict())
    del data["satisfaction_patterns"]
    data["quirks"] = [
        {
            "name": "asks_back",
            "description": "answers with a question of its own",
            "strength": 0.3,
            "confidence": 0.72,
            "created_at": T0,
            "last_reinforced": T0,
            "active": True,
        }
    ]
    old = PersonalityState.from_dict(data)
    assert old.satisfaction_patterns == {}
    (loaded,) = old.quirks
    assert loaded.category == "behavior" and loaded.contradictions == 0 and loaded.last_contradicted is None
    assert Quirk.from_dict({**data["quirks"][0], "name": "gone_pattern"}).category == "behavior"


def test_a_long_message_contradicts_the_short_replies_quirk_and_costs_it_0_1() -> None:
    short = Quirk(
        name="short_replies", description="keeps replies short and casual", category="preference", strength=0.5,
        confidence=0.75, created_at=T0 - 5 * DAY, last_reinforced=T0 - 3 * DAY,  # neither reinforced nor decayed
    )  # fmt: skip
    emoji = replace(quirk(0.5, T0), category="speech_pattern")
    state = _with_quirks(fresh(), short, emoji)
    result = apply_interaction(
        state, message=LONG, emotion="neutral", intensity=0, emotions=emotions(neutral=60), category="fact",
        now=T0 + HOUR,
    )  # fmt: skip
    contradicted, untouched = result.state.quirks
    assert contradicted.strength == pytest.approx(0.4)  # the seed's "strength -= 0.1"
    assert contradicted.confidence == pytest.approx(0.65) and contradicted.contradictions == 1
    assert "contradicted quirk short_replies (0.50 -> 0.40)" in result.events
    assert untouched == emoji  # a message without emoji does not contradict "uses emoji": decay handles absence
    # at most once in 24 hours: a second long message the same day costs nothing more
    again = _say(result.state, LONG, T0 + 2 * HOUR)
    assert again.quirks[0].strength == pytest.approx(0.4)
    later = _say(again, LONG, T0 + HOUR + DAY)
    assert later.quirks[0].strength == pytest.approx(0.3) and later.quirks[0].contradictions == 2
    # a short message is no contradiction, and a quirk pushed below 0.05 is deactivated
    assert _say(state, "I went to the market today and bought some apples", T0 + HOUR).quirks[0] == short
    weak = _say(_with_quirks(fresh(), replace(short, strength=0.1)), LONG, T0 + HOUR).quirks[0]
    assert not weak.active and weak.strength == pytest.approx(0.0)


def test_a_quirks_confidence_rises_with_each_reinforcement_and_falls_with_contradiction() -> None:
    (reinforced,), _ = evolve_quirks((quirk(0.5, T0),), {}, T0 + 0.5 * DAY)
    assert reinforced.confidence == pytest.approx(0.95)  # 0.9 + 0.05
    (capped,), _ = evolve_quirks((replace(reinforced, last_reinforced=T0 + DAY),), {}, T0 + 1.5 * DAY)
    assert capped.confidence == 1.0
    (idle,), _ = evolve_quirks((quirk(0.5, T0),), {}, T0 + 3 * DAY)
    assert idle.confidence == 0.9  # no evidence either way
    short = Quirk(
        name="short_replies", description="keeps replies short", category="preference", strength=0.5,
        confidence=0.05, created_at=T0, last_reinforced=T0,
    )  # fmt: skip
    assert _say(_with_quirks(fresh(), short), LONG, T0 + HOUR).quirks[0].confidence == 0.0


def test_quirk_reinforcement_and_decay_rates_are_parameters() -> None:
    rates = Rates(quirk_reinforcement=0.2, quirk_decay=0.3)
    state = _with_quirks(fresh(), quirk(0.5, T0 + DAY))
    reinforced, _ = advance_time(replace(state, last_quirk_evolution_at=T0), T0 + DAY + 10, rates=rates)
    assert reinforced.quirks[0].strength == pytest.approx(0.7)
    decayed, _ = advance_time(_with_quirks(fresh(), quirk(0.5, T0)), T0 + 7 * DAY, rates=rates)
    assert decayed.quirks[0].strength == pytest.approx(0.2)
    default, _ = advance_time(_with_quirks(fresh(), quirk(0.5, T0)), T0 + 7 * DAY)
    assert default.quirks[0].strength == pytest.approx(0.4)


def test_the_drift_rate_is_a_parameter() -> None:
    baseline = PAD(pleasure=0.0)
    history = tuple((T0 + i, PAD(pleasure=1.0)) for i in range(5))
    drifted = drift_baseline(baseline, history, T0 + DAY, 1, rate=0.1)
    assert drifted is not None and drifted.pleasure == pytest.approx(0.1)
    state = fresh()
    for index in range(5):
        state = _say(state, "I passed my exam, thank you!", T0 + index)
    slow, _ = advance_time(state, T0 + DAY + 10)
    fast, _ = advance_time(state, T0 + DAY + 10, rates=Rates(drift=0.5))
    still, _ = advance_time(state, T0 + DAY + 10, rates=Rates(drift=0.0))
    assert still.baseline == state.baseline
    moved = abs(fast.baseline.pleasure - state.baseline.pleasure)
    assert moved == pytest.approx(50 * abs(slow.baseline.pleasure - state.baseline.pleasure), rel=1e-6)


# -- satisfaction patterns -------------------------------------------------------------------------------------
def test_interactions_count_which_kind_of_talk_met_which_need() -> None:
    state = fresh()
    state = _say(state, "What do you think about black holes?", T0 + 10, category="interest")
    state = _say(state, "I started learning the cello.", T0 + 20, category="skill")
    state = apply_interaction(
        state, message="Thank you, you're great!", emotion="happiness", intensity=70,
        emotions=emotions(happiness=70), category="emotion", now=T0 + 30,
    ).state  # fmt: skip
    patterns = state.satisfaction_patterns
    assert patterns["social"] == {"question": 1, "skill": 1, "compliment": 1}
    assert patterns["intellectual"] == {"question": 1, "skill": 1}
    assert patterns["creative"] == {"question": 1}  # an interest
    assert patterns["validation"] == {"compliment": 1}
    assert patterns["rest"] == {"question": 1, "skill": 1}  # the two calm messages
    assert PersonalityState.from_dict(state.to_dict()).satisfaction_patterns == patterns


def _turns(state: PersonalityState, messages: list[tuple[str, dict[str, int]]]) -> PersonalityState:
    for step, (message, felt) in enumerate(messages, start=1):
        emotion = max(felt, key=lambda name: felt[name])
        state = apply_interaction(
            state,
            message=message,
            emotion=emotion,
            intensity=felt[emotion],
            emotions=emotions(**felt),
            category="fact",
            now=T0 + 60 * step,
        ).state
    return state


def test_eight_small_talk_messages_do_not_run_the_mood_away() -> None:
    state = fresh()
    chatter = [
        ("hey, how are you?", {"neutral": 60}),
        ("haha that's funny", {"happiness": 90}),
        ("I watched a movie with a friend last night", {"neutral": 90}),
        ("the weather is nice today", {"happiness": 70}),
        ("I'm making pasta for dinner", {"neutral": 76}),
        ("lol yes", {"happiness": 80}),
        ("did you see the game yesterday?", {"neutral": 81}),
        ("nice, that sounds fun", {"happiness": 75}),
    ]
    after = _turns(state, chatter)
    assert after.mood.pleasure - state.baseline.pleasure < 0.25  # was 0.55 -> 0.94 with the keyword rules


def test_each_turn_settles_the_mood_toward_the_baseline_before_the_appraisal() -> None:
    state = replace(fresh(), mood=PAD(pleasure=0.9, arousal=0.5, dominance=0.3))
    result = apply_interaction(
        state, message="ok", emotion="neutral", intensity=80, emotions=emotions(neutral=80), category="fact", now=T0
    )
    expected = state.mood.toward(state.baseline, TURN_RELAXATION)
    assert result.change is None and result.state.mood == expected


def test_grief_turns_the_mood_away_from_exuberance() -> None:
    state = fresh()
    assert state.mood.label == "exuberant"
    grieving = _turns(state, [("My best friend died yesterday", {"sadness": 90})] * 3)
    assert grieving.mood.pleasure < state.baseline.pleasure - 0.25
    assert [change.rule for change in grieving.changes] == ["sorry_for"] * 3
