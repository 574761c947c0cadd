"""Sensitivity levels and the local classifier (design seed 002): thresholds, order, lexicon, merging."""

from __future__ import annotations

import pytest

from companion.core.errors import InvalidInputError
from memory.records import MemoryRecord
from memory.sensitivity import (
    CONFIDENCE_THRESHOLDS,
    SHARED_MAX_LEVEL,
    Sensitivity,
    allowed_at,
    apply_thresholds,
    decode_tags,
    encode_tags,
    parse_sensitivity,
    security_level,
    sensitivity_from_input,
)
from tools.sensitivity import Classification, classified, classify_local, merge_classifications, sentiment_of


def test_the_seeds_thresholds_and_security_levels() -> None:
    assert CONFIDENCE_THRESHOLDS == {
        Sensitivity.CHRONOLOGICAL: 0.7,
        Sensitivity.GENERAL: 0.6,
        Sensitivity.CONFIDENTIAL: 0.8,
        Sensitivity.SECRET: 0.9,
        Sensitivity.ULTRASECRET: 0.95,
    }
    assert [security_level(level) for level in Sensitivity] == [1, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("level", "confidence", "expected"),
    [
        (Sensitivity.ULTRASECRET, 0.96, (Sensitivity.ULTRASECRET, 0.96)),  # at or above its threshold: kept
        (Sensitivity.ULTRASECRET, 0.92, (Sensitivity.SECRET, 0.92)),  # steps down to the next level it reaches
        (Sensitivity.SECRET, 0.85, (Sensitivity.CONFIDENTIAL, 0.85)),
        (Sensitivity.CONFIDENTIAL, 0.5, (Sensitivity.GENERAL, 0.6)),  # the seed: general, max(confidence, 0.6)
        (Sensitivity.CHRONOLOGICAL, 0.65, (Sensitivity.GENERAL, 0.65)),
        (Sensitivity.CHRONOLOGICAL, 0.7, (Sensitivity.CHRONOLOGICAL, 0.7)),
        (Sensitivity.GENERAL, 0.3, (Sensitivity.GENERAL, 0.6)),
        (Sensitivity.SECRET, 1.7, (Sensitivity.SECRET, 1.0)),  # clamped
    ],
)
def test_thresholds_downgrade_toward_caution(level: Sensitivity, confidence: float, expected: tuple) -> None:  # type: ignore[type-arg]
    assert apply_thresholds(level, confidence) == expected


def test_stored_values_parse_fail_closed_and_input_is_checked() -> None:
    assert parse_sensitivity(None) is Sensitivity.GENERAL and parse_sensitivity("") is Sensitivity.GENERAL
    assert parse_sensitivity(" Secret ") is Sensitivity.SECRET
    assert parse_sensitivity("top-secret-ish") is Sensitivity.CONFIDENTIAL  # unknown: confidential
    assert sensitivity_from_input("ULTRASECRET") is Sensitivity.ULTRASECRET
    with pytest.raises(InvalidInputError, match="unknown sensitivity level 'public'"):
        sensitivity_from_input("public")


def test_shared_contexts_allow_level_one_only() -> None:
    assert SHARED_MAX_LEVEL is Sensitivity.CHRONOLOGICAL
    assert allowed_at("general", SHARED_MAX_LEVEL) and allowed_at("chronological", SHARED_MAX_LEVEL)
    assert not allowed_at("confidential", SHARED_MAX_LEVEL) and not allowed_at("nonsense", SHARED_MAX_LEVEL)
    assert allowed_at("ultrasecret", Sensitivity.ULTRASECRET)


def test_tags_round_trip_through_chroma_metadata() -> None:
    assert encode_tags(["Work", "family", "work", " "]) == ",work,family,"
    assert decode_tags(",work,family,") == ("work", "family") and decode_tags("") == ()
    record = MemoryRecord(id="m", user_id="u", text="t", sensitivity=Sensitivity.SECRET, tags=("health",))
    back = MemoryRecord.from_chroma("m", "t", record.to_metadata())
    assert back.sensitivity is Sensitivity.SECRET and back.tags == ("health",)
    old = MemoryRecord.from_chroma("m", "t", {"user_id": "u"})  # stored before classification existed
    assert old.sensitivity is Sensitivity.GENERAL and old.sensitivity_confidence == 0.0 and old.tags == ()


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("I prefer tea over coffee.", "general"),
        ("What's the weather like?", "general"),
        ("Last weekend we went camping by the lake.", "chronological"),
        ("My doctor diagnosed me with diabetes.", "confidential"),
        ("I still owe my brother a lot of money, the debt keeps me up at night.", "confidential"),
        ("I've never told anyone that I was adopted.", "secret"),
        ("My wifi password is: bluefish77", "ultrasecret"),
        ("my card number is 4111 1111 1111 1111", "ultrasecret"),
    ],
)
def test_the_lexicon_classifies_clear_cases(text: str, level: str) -> None:
    result = classify_local(text)
    assert result.level.value == level, result
    assert result.confidence >= CONFIDENCE_THRESHOLDS[result.level]


def test_a_bare_credential_word_is_kept_secret_not_ultrasecret() -> None:
    result = classify_local("what is my bank PIN code?")  # asks about a credential, carries none
    assert result.level is Sensitivity.SECRET and result.reasons == ("credential",)


def test_tags_and_sentiment() -> None:
    result = classify_local("I had a wonderful dinner with my mom at a new restaurant.")
    assert result.tags == ("family", "food") and result.sentiment == "positive"
    assert sentiment_of("whatever", {"sadness": 80, "happiness": 70}) == "mixed"
    assert sentiment_of("whatever", {"anger": 40}) == "negative"
    assert sentiment_of("I hate this", None) == "negative"


def test_the_model_never_lowers_what_the_lexicon_found() -> None:
    local = classify_local("I've never told anyone about my debts.")
    said_general = Classification(Sensitivity.GENERAL, 0.9, ("money",), "neutral", source="model")
    merged = merge_classifications(local, said_general)
    assert merged.level is Sensitivity.SECRET and merged.source == "model" and merged.tags[0] == "money"
    said_ultra = Classification(Sensitivity.ULTRASECRET, 0.97, (), "negative", source="model")
    assert merge_classifications(local, said_ultra).level is Sensitivity.ULTRASECRET


def test_derived_memories_are_never_less_sensitive_than_their_sources() -> None:
    secret = classified(MemoryRecord(id="a", user_id="u", text="Nobody knows I was arrested in 2009."))
    assert secret.sensitivity is Sensitivity.SECRET
    summary = classified(MemoryRecord(id="s", user_id="u", text="Some things happened long ago."), sources=[secret])
    assert summary.sensitivity is Sensitivity.SECRET
    version = classified(secret, text="It was in Lyon.")  # a new version of a secret stays secret
    assert version.sensitivity is Sensitivity.SECRET
