"""The ``emotion`` suite: the detector against a keyword lexicon, in the same run, on three sets.

1. GoEmotions' held-out *test* split (5,427 Reddit comments; the detector was trained on *train* and tuned on
   *dev*). Gold labels are GoEmotions' labels mapped to the project's types (``GOEMOTIONS_TO_TYPE``); a comment can
   carry several. Each system predicts a set of types per message the way the product uses detection: every
   non-neutral type above the signal threshold (> 30), or ``neutral`` when there is none (the lexicon: every type
   with a cue word). Per type precision, recall and F1 for the eight learnable types (panic has no gold label; its
   predictions are counted), macro-F1 over the eight and over the seven emotions without neutral.
2. Negation and contrast (``evals/datasets/emotion_negation.jsonl``, written for this suite): sentences that name
   an emotion only to deny it ("I'm not sad, I'm actually doing great"), each with the ``negated`` type.
   ``negation_cleared`` is the share *not* labelled with the negated type (target >= 0.90).
3. Named probes (``evals/datasets/emotion_probes.jsonl``): a message and the types that would be right for it;
   ``probes_right`` is the share whose main emotion (the detector's dominant type, the lexicon's type with the
   most cue matches) is one of them.

Metrics are ``detector.<name>`` and ``lexicon.<name>``; every call to the detector goes through
``evals/perception.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from companion.core.errors import InvalidInputError
from evals.core import Advance, EvalEnv, SuiteOutcome, load_jsonl, require, share
from evals.corpora import DATASETS_DIR, GOEMOTIONS_TEST, goemotions_test, source
from evals.perception import (
    EMOTION_TYPES,
    EMOTIONAL_SIGNAL_THRESHOLD,
    GOEMOTIONS_LABELS,
    GOEMOTIONS_TO_TYPE,
    LEARNED_TYPES,
    emotion_set,
    perceive,
)

PROBES = DATASETS_DIR / "emotion_probes.jsonl"

#: The lexicon baseline: a few dozen common words per type (prefix matches on word starts).
LEXICON: dict[str, tuple[str, ...]] = {
    "happiness": (
        "happy",
        "glad",
        "joy",
        "great",
        "awesome",
        "love it",
        "lol",
        "haha",
        "funny",
        "thank",
        "thanks",
        "good",
        "nice",
        "proud",
        "relieved",
        "hope",
        "yay",
        "congrat",
        "amazing",
        "wonderful",
        "beautiful",
        "agree",
    ),
    "sadness": (
        "sad",
        "sorry",
        "unfortunately",
        "miss ",
        "cry",
        "crying",
        "depress",
        "grief",
        "lost",
        "lonely",
        "hurt",
        "disappoint",
        "regret",
        "heartbroken",
        "rip",
        "tragic",
    ),
    "anxiety": ("nervous", "anxious", "anxiety", "worried", "worry", "stress", "awkward", "embarrass", "uneasy"),
    "excitement": ("excited", "exciting", "can't wait", "wow", "omg", "whoa", "surpris", "want", "wish", "thrill"),
    "anger": (
        "angry",
        "mad",
        "hate",
        "annoy",
        "furious",
        "stupid",
        "idiot",
        "wtf",
        "fuck",
        "disgust",
        "gross",
        "awful",
        "terrible",
        "worst",
        "ridiculous",
        "shut up",
    ),
    "love": ("love", "adore", "cute", "sweet", "care", "hug", "darling", "<3", "kind"),
    "fear": ("afraid", "scared", "fear", "terrified", "terrifying", "scary", "frighten", "panic", "horror"),
}
_LEXICON_PATTERNS = {
    name: re.compile("|".join(r"(?<!\w)" + re.escape(word) for word in words), re.IGNORECASE)
    for name, words in LEXICON.items()
}


def lexicon_predict(text: str) -> set[str]:
    """The lexicon baseline's types for one message (``neutral`` when no word matches)."""
    found = {name for name, pattern in _LEXICON_PATTERNS.items() if pattern.search(text)}
    return found or {"neutral"}


def lexicon_dominant(text: str) -> str:
    """The lexicon's main emotion: the type with the most cue matches (ties: the first in ``LEXICON``)."""
    counts = {name: len(pattern.findall(text)) for name, pattern in _LEXICON_PATTERNS.items()}
    best = max(counts, key=lambda name: counts[name])
    return best if counts[best] else "neutral"


def scores(gold: Sequence[set[str]], predicted: Sequence[set[str]], name: str) -> dict[str, float]:
    """Precision, recall, F1 and support of one type over multi-label sets."""
    tp = sum(1 for g, p in zip(gold, predicted, strict=True) if name in g and name in p)
    fp = sum(1 for g, p in zip(gold, predicted, strict=True) if name not in g and name in p)
    fn = sum(1 for g, p in zip(gold, predicted, strict=True) if name in g and name not in p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}


def type_metrics(gold: Sequence[set[str]], predicted: Sequence[set[str]], types: Sequence[str]) -> dict[str, float]:
    """``f1_<type>`` for each type, ``macro_f1`` over ``types`` and ``macro_f1_emotions`` without neutral."""
    f1 = {name: scores(gold, predicted, name)["f1"] for name in types}
    emotions = [name for name in types if name != "neutral"]
    return {
        "macro_f1": sum(f1.values()) / len(f1),
        "macro_f1_emotions": sum(f1[n] for n in emotions) / len(emotions) if emotions else 0.0,
        **{f"f1_{name}": value for name, value in f1.items()},
    }


def validate_negation(case: dict[str, Any]) -> tuple[str, str]:
    """The text and negated type of a negation case."""
    text, negated = require(case, "text", str), require(case, "negated", str)
    if negated not in EMOTION_TYPES or negated == "neutral":
        raise InvalidInputError(f"case {case['id']!r}: 'negated' must be an emotion type, got {negated!r}")
    return text, negated


def validate_probe(case: dict[str, Any]) -> tuple[str, list[str]]:
    """The text and acceptable types of a probe."""
    text, expected = require(case, "text", str), require(case, "expected", list)
    unknown = [name for name in expected if name not in EMOTION_TYPES]
    if unknown:
        raise InvalidInputError(f"case {case['id']!r}: unknown emotion types {unknown}")
    return text, expected


def run_emotion(cases: list[dict[str, Any]], env: EvalEnv, advance: Advance) -> SuiteOutcome:
    """GoEmotions test, the negation set (``cases``) and the probes, for the detector and the lexicon."""
    negation = [validate_negation(case) for case in cases]
    probe_cases = load_jsonl(PROBES)
    probes = [validate_probe(case) for case in probe_cases]
    texts, labels = goemotions_test()
    gold = [{GOEMOTIONS_TO_TYPE[GOEMOTIONS_LABELS[i]] for i in ids} for ids in labels]

    perceived = perceive(texts, env.embedder, cache_dir=env.cache_dir, advance=advance, label="GoEmotions test")
    detector_sets = [emotion_set(p.detection) for p in perceived]
    lexicon_sets = [lexicon_predict(text) for text in texts]
    extra = perceive(
        [t for t, _ in negation] + [t for t, _ in probes], env.embedder, advance=advance, label="negation and probes"
    )
    negation_seen, probe_seen = extra[: len(negation)], extra[len(negation) :]

    rows: list[dict[str, Any]] = []
    metrics: dict[str, float] = {"n_messages": len(texts), "n_negation": len(negation), "n_probes": len(probes)}
    cleared: dict[str, list[bool]] = {"detector": [], "lexicon": []}
    for case, (text, negated), seen in zip(cases, negation, negation_seen, strict=True):
        detector_types, lexicon_types = emotion_set(seen.detection), lexicon_predict(text)
        cleared["detector"].append(negated not in detector_types)
        cleared["lexicon"].append(negated not in lexicon_types)
        rows.append(
            {
                "id": case["id"],
                "set": "negation",
                "negated": negated,
                "detector": sorted(detector_types),
                "detector_intensity": seen.detection.emotions.get(negated, 0),
                "lexicon": sorted(lexicon_types),
                "scores": {
                    "detector_cleared": float(cleared["detector"][-1]),
                    "lexicon_cleared": float(cleared["lexicon"][-1]),
                },
            }
        )
    right: dict[str, list[bool]] = {"detector": [], "lexicon": []}
    for case, (text, expected), seen in zip(probe_cases, probes, probe_seen, strict=True):
        detection = seen.detection
        detector_main = detection.emotion if detection.is_emotional_signal else "neutral"
        lexicon_main = lexicon_dominant(text)
        right["detector"].append(detector_main in expected)
        right["lexicon"].append(lexicon_main in expected)
        rows.append(
            {
                "id": case["id"],
                "set": "probe",
                "expected": expected,
                "detector": f"{detection.emotion} {detection.intensity}",
                "lexicon": lexicon_main,
                "scores": {
                    "detector_right": float(right["detector"][-1]),
                    "lexicon_right": float(right["lexicon"][-1]),
                },
            }
        )
    classes: dict[str, Any] = {}
    for system, predicted in (("detector", detector_sets), ("lexicon", lexicon_sets)):
        metrics |= {f"{system}.{k}": v for k, v in type_metrics(gold, predicted, LEARNED_TYPES).items()}
        metrics[f"{system}.negation_cleared"] = share(cleared[system])
        metrics[f"{system}.probes_right"] = share(right[system])
        metrics[f"{system}.n_panic_predictions"] = sum(1 for s in predicted if "panic" in s)
        classes[system] = {name: scores(gold, predicted, name) for name in LEARNED_TYPES}
    return SuiteOutcome(
        status="measured",
        metrics=metrics,
        cases=rows,
        systems=("detector", "lexicon"),
        details={
            "sources": {
                "goemotions_test": source(GOEMOTIONS_TEST, len(texts), "held out: never used for training or tuning"),
                "probes": source(PROBES, len(probes)),
            },
            "classes": classes,
            "signal_threshold": EMOTIONAL_SIGNAL_THRESHOLD,
            "targets": {"macro_f1": [">=", 0.62], "negation_cleared": [">=", 0.9]},
            "baseline": "lexicon: a few dozen cue words per type (evals/emotion.py LEXICON)",
        },
    )
