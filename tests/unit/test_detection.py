"""The local detector (tools/detection.py) with the committed weights, on real MiniLM embeddings."""

import numpy as np
import pytest

from companion.core.errors import ConfigurationError
from memory.embeddings import Embedder
from tools.detection import (
    CATEGORIES,
    EMOTION_TYPES,
    EMOTIONAL_SIGNAL_THRESHOLD,
    GOEMOTIONS_LABELS,
    GOEMOTIONS_TO_TYPE,
    MODEL_PATH,
    Detection,
    Detector,
    dominant_index,
    load_detector,
    median_level,
    snap_importance,
)


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector()


def detect(detector: Detector, embedder: Embedder, text: str) -> Detection:
    return detector.detect(text, embedder.embed([text])[0])


def test_a_feeling_the_classifier_decides_on_dominates_a_stronger_neutral() -> None:
    def row(**values: int) -> np.ndarray:
        return np.array([values.get(name, 0) for name in EMOTION_TYPES], dtype=np.float32)

    # "I'm furious that my landlord kept my deposit" read as anger 32 beside neutral 43: the message is angry
    assert EMOTION_TYPES[dominant_index(row(anger=32, neutral=43, sadness=20))] == "anger"
    assert EMOTION_TYPES[dominant_index(row(anger=30, neutral=43))] == "neutral"  # not above the threshold
    assert EMOTION_TYPES[dominant_index(row(anger=25, neutral=10))] == "anger"  # no decided feeling: the strongest
    assert EMOTION_TYPES[dominant_index(row(anger=40, sadness=70, neutral=90))] == "sadness"


def test_the_contract_constants() -> None:
    assert EMOTION_TYPES == (
        "happiness", "sadness", "anxiety", "panic", "excitement", "anger", "love", "fear", "neutral"
    )  # fmt: skip
    assert EMOTIONAL_SIGNAL_THRESHOLD == 30
    assert CATEGORIES == ("person", "event", "emotion", "interest", "fact", "skill", "goal", "problem", "location")
    assert set(GOEMOTIONS_TO_TYPE) == set(GOEMOTIONS_LABELS) and len(GOEMOTIONS_LABELS) == 28
    assert set(GOEMOTIONS_TO_TYPE.values()) == set(EMOTION_TYPES) - {"panic"}
    assert MODEL_PATH.is_file() and MODEL_PATH.suffix == ".npz"
    assert MODEL_PATH.stat().st_size < 2_500_000  # small enough to commit (the importance examples ride along)


def test_a_detection_is_frozen_and_complete(detector: Detector, embedder: Embedder) -> None:
    found = detect(detector, embedder, "I love you so much, you mean the world to me.")
    assert list(found.emotions) == list(EMOTION_TYPES)
    assert all(0 <= value <= 100 for value in found.emotions.values())
    assert found.emotions[found.emotion] == found.intensity == max(found.emotions.values())
    assert found.importance in {100, 300, 500, 700, 900}
    assert found.category in CATEGORIES
    with pytest.raises(AttributeError):
        found.emotion = "anger"  # type: ignore[misc]
    assert Detection.from_dict(found.to_dict()) == found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm so happy today, everything went great!", {"happiness", "excitement"}),
        ("My dog died this morning and I can't stop crying.", {"sadness"}),
        ("I'm furious, they lied to me again.", {"anger"}),
        ("I'm really scared of what the doctor will say.", {"fear", "anxiety", "panic"}),
        ("I love you so much.", {"love"}),
        ("The meeting is at three.", {"neutral"}),
    ],
)
def test_clear_messages_get_the_obvious_emotion(
    detector: Detector, embedder: Embedder, text: str, expected: set[str]
) -> None:
    assert detect(detector, embedder, text).emotion in expected


def test_signal_requires_a_non_neutral_emotion_above_30(detector: Detector, embedder: Embedder) -> None:
    assert detect(detector, embedder, "I'm absolutely terrified right now.").is_emotional_signal
    assert not detect(detector, embedder, "The train leaves at 9:40 from platform 2.").is_emotional_signal
    neutral = Detection(emotion="neutral", intensity=90, emotions={}, importance=100, category="fact")
    weak = Detection(emotion="anger", intensity=30, emotions={}, importance=100, category="fact")
    assert not neutral.is_emotional_signal and not weak.is_emotional_signal


def test_panic_is_reported_when_named(detector: Detector, embedder: Embedder) -> None:
    found = detect(detector, embedder, "I'm panicking, my heart is racing and I can't breathe!")
    assert found.emotions["panic"] >= 50
    assert found.emotion in {"panic", "fear", "anxiety"}


def test_life_events_are_more_important_than_small_talk(detector: Detector, embedder: Embedder) -> None:
    death = detect(detector, embedder, "My father passed away last night.")
    weather = detect(detector, embedder, "What's the weather like?")
    assert death.importance >= 700
    assert weather.importance <= 300
    assert detect(detector, embedder, "I live in Lisbon, near the river.").category == "location"
    assert detect(detector, embedder, "I want to run a marathon next year.").category == "goal"


@pytest.mark.parametrize(
    "text",
    [
        "I had cereal for breakfast and then caught the bus to work.",
        "Just finished vacuuming the hallway.",
        "The dishwasher is running, so I'm watching some TV.",
        "It's drizzling a bit this afternoon.",
        "I picked up a few groceries on the way home, nothing exciting.",
        "Okay, thanks!",
        "This sandwich is SO good, I'm so happy right now!!!",  # strong joy about nothing much stays chatter
    ],
)
def test_everyday_chatter_is_at_most_low_importance(detector: Detector, embedder: Embedder, text: str) -> None:
    assert detect(detector, embedder, text).importance <= 300


@pytest.mark.parametrize(
    "text",
    [
        "my knight died to a dragon in the game, lost all my gold",
        "the hero's mom dies in the first ten minutes of the movie, classic",
        "cried my eyes out at the end of that anime",  # strong sadness about a film stays a minor detail
        "bye for now, talk later tonight",
        "took my iron tablet with orange juice",
        "my girlfriend poked me awake this morning",
    ],
)
def test_loaded_words_in_everyday_chat_stay_low_importance(detector: Detector, embedder: Embedder, text: str) -> None:
    assert detect(detector, embedder, text).importance <= 300


@pytest.mark.parametrize(
    "text",
    [
        "My grandfather died on Sunday.",
        "We're getting married in the spring!",
        "I got the job at the hospital and I start next month.",
        "My wife gave birth to our daughter last night.",
        "I was diagnosed with diabetes this week.",
        "My brother was in a car crash and he's in intensive care.",
    ],
)
def test_life_events_are_high_or_critical(detector: Detector, embedder: Embedder, text: str) -> None:
    assert detect(detector, embedder, text).importance >= 700


def test_importance_is_the_median_level_not_the_mean() -> None:
    # Evidence split between minimal and critical is not averaged into "medium".
    assert median_level(np.array([[0.4, 0.0, 0.0, 0.0, 0.6], [0.6, 0.0, 0.0, 0.0, 0.4]])).tolist() == [900, 100]
    assert median_level(np.array([[0.1, 0.2, 0.3, 0.2, 0.2]])).tolist() == [500]


def test_batch_equals_single(detector: Detector, embedder: Embedder) -> None:
    texts = ["I'm thrilled!", "I'm sad.", "ok", "My sister is visiting."]
    vectors = embedder.embed(texts)
    assert detector.detect_batch(texts, vectors) == [detector.detect(t, v) for t, v in zip(texts, vectors, strict=True)]
    assert detector.detect_batch([], np.zeros((0, 384), dtype=np.float32)) == []


def test_wrong_embedding_shape_is_rejected(detector: Detector) -> None:
    with pytest.raises(ValueError, match="expected embeddings of shape"):
        detector.detect_batch(["a", "b"], np.zeros((2, 10), dtype=np.float32))


def test_missing_weights_are_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match="cannot load the emotion classifier"):
        load_detector(tmp_path / "missing.npz")


@pytest.mark.parametrize(("value", "level"), [(0, 100), (199, 100), (200, 300), (650, 700), (5000, 900)])
def test_importance_snaps_to_the_seeds_levels(value: float, level: int) -> None:
    assert snap_importance(value) == level
