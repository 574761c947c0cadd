"""The one place the perception eval suites call the detectors: texts in, detections and injection verdicts out.

The emotion, crisis, injection and importance suites see perception only through :func:`perceive` (and the
label constants re-exported here), so when the perception model changes, this module is the one to adapt. With
the project's embedder that is the perception model (``tools/perception.py``) on the encoder's layer-4 states,
exactly as a chat turn runs it; with an embedder that has no states, the frozen-embedding classifiers.

Embedding is the slow part (thousands of messages take minutes on 2 cores): texts are embedded in batches with
progress reported through ``advance``, and, given a ``cache_dir``, every vector is kept by the sha1 of its text
in one ``.npz`` per embedder, so a second suite on the same messages (GoEmotions test is emotion data and
ordinary chat; the ordinary-chat corpus is shared by the crisis and injection suites) or a re-run does not embed
them again. A new embedder is a new cache file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from evals.core import Advance
from memory.embeddings import Embedder
from tools.crisis import CRISIS_KINDS, Crisis
from tools.detection import (
    EMOTION_TYPES,
    EMOTIONAL_SIGNAL_THRESHOLD,
    GOEMOTIONS_LABELS,
    GOEMOTIONS_TO_TYPE,
    INJECTION_OUTPUT,
    LEARNED_TYPES,
    Detection,
    detect_with_scores,
    load_detector,
    perception_scores,
)
from tools.injection import InjectionVerdict, detect_injection, load_classifier
from tools.perception import CRISIS_MODEL_PATH, MODEL_PATH, OUTPUTS

__all__ = [
    "CRISIS_KINDS",
    "EMOTIONAL_SIGNAL_THRESHOLD",
    "EMOTION_TYPES",
    "GOEMOTIONS_LABELS",
    "GOEMOTIONS_TO_TYPE",
    "LEARNED_TYPES",
    "Crisis",
    "Perception",
    "embed",
    "emotion_set",
    "perceive",
]

logger = logging.getLogger(__name__)

#: Texts per call to the embedder (each call also advances the progress bar).
BATCH = 64


@dataclass(frozen=True, slots=True)
class Perception:
    """What the product perceives in one message.

    ``detection``: emotion, importance, category and crisis; ``injection``: the screen's verdict (rules and
    classifier, no chat model).
    """

    detection: Detection
    injection: InjectionVerdict


def embed(
    texts: Sequence[str],
    embedder: Embedder,
    *,
    cache_dir: Path | None = None,
    advance: Advance | None = None,
    label: str = "embedding",
) -> npt.NDArray[np.float32]:
    """The embeddings of ``texts``, embedding in batches only those not in the cache, reporting progress."""
    return _cached_rows(
        texts, _embedder_id(embedder), embedder.embed, cache_dir=cache_dir, advance=advance, label=label
    )


def _cached_rows(
    texts: Sequence[str],
    name: str,
    compute: Callable[[list[str]], Iterable[npt.NDArray[np.float32]]],
    *,
    cache_dir: Path | None,
    advance: Advance | None,
    label: str,
) -> npt.NDArray[np.float32]:
    """One row per text, kept in the cache file ``name`` by the sha1 of the text; reports progress.

    ``compute`` gives the rows of a batch of texts; it runs only on the texts not cached yet, each text once.
    """
    keys = [hashlib.sha1(text.encode("utf-8")).hexdigest() for text in texts]
    cached = _read_cache(cache_dir, name)
    first = {key: index for index, key in reversed(list(enumerate(keys)))}
    missing = sorted(index for key, index in first.items() if key not in cached)
    if advance is not None:
        advance(0, total=len(texts), description=label)
        advance(len(texts) - len(missing))  # duplicates and cached texts need no computing
    fresh: dict[str, npt.NDArray[np.float32]] = {}
    for start in range(0, len(missing), BATCH):
        batch = missing[start : start + BATCH]
        for index, row in zip(batch, compute([texts[i] for i in batch]), strict=True):
            fresh[keys[index]] = row
        if advance is not None:
            advance(len(batch))
    if fresh and cache_dir is not None:
        _write_cache(cache_dir, name, cached | fresh)
    found = cached | fresh
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[key] for key in keys]).astype(np.float32)


def _embedder_id(embedder: Embedder) -> str:
    """The embedder's name, plus a fingerprint of its model file when it has one (a retrained graph: new cache)."""
    name = str(getattr(embedder, "model_name", type(embedder).__name__))
    model_path = getattr(embedder, "model_path", None)
    if isinstance(model_path, Path) and model_path.is_file():
        stat = model_path.stat()
        name += "-" + hashlib.sha1(f"{model_path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:10]
    return name


def _cache_path(cache_dir: Path, name: str) -> Path:
    return cache_dir / f"embeddings-{name}.npz"


def _read_cache(cache_dir: Path | None, name: str) -> dict[str, npt.NDArray[np.float32]]:
    """The cached vectors by sha1 of their text (empty without a cache or when it is unreadable)."""
    if cache_dir is None or not _cache_path(cache_dir, name).is_file():
        return {}
    try:
        with np.load(_cache_path(cache_dir, name), allow_pickle=False) as stored:
            return dict(zip((str(k) for k in stored["keys"]), stored["vectors"], strict=True))
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("embedding cache in %s is unreadable (%s); recomputing", cache_dir, exc)
        return {}


def _write_cache(cache_dir: Path, name: str, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = _cache_path(cache_dir, name)
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez(temporary, keys=np.array(list(vectors)), vectors=np.stack(list(vectors.values())))
    temporary.replace(path)


def perceive(
    texts: Sequence[str],
    embedder: Embedder,
    *,
    cache_dir: Path | None = None,
    advance: Advance | None = None,
    label: str = "embedding",
) -> list[Perception]:
    """Detection (emotion, importance, category, crisis) and injection verdict of each text, as a turn sees them.

    With the project's embedder, every text goes through one run of the encoder and the perception model
    (``tools.detection.perception_scores``); given a ``cache_dir``, each text's vector and model scores are kept
    by the sha1 of its text (one file per embedder and model file), like :func:`embed` keeps vectors.
    """
    if not texts:
        return []
    detector, classifier = load_detector(), load_classifier()
    if not hasattr(embedder, "embed_with_states"):
        vectors = embed(texts, embedder, cache_dir=cache_dir, advance=advance, label=label)
        detections = detector.detect_batch(list(texts), vectors)
        return [
            Perception(detection=detection, injection=detect_injection(text, vector, classifier))
            for text, vector, detection in zip(texts, vectors, detections, strict=True)
        ]

    def vector_and_scores(batch: list[str]) -> list[npt.NDArray[np.float32]]:
        vectors, scores = perception_scores(batch, embedder)
        assert scores is not None  # an embedder with states always yields scores
        return [np.concatenate([vectors[row], scores[row]]) for row in range(len(batch))]

    name = f"{_embedder_id(embedder)}-perception-{_model_id()}"
    table = _cached_rows(texts, name, vector_and_scores, cache_dir=cache_dir, advance=advance, label=label)
    vectors, scores = table[:, : -len(OUTPUTS)], table[:, -len(OUTPUTS) :]
    detections = detect_with_scores(list(texts), vectors, scores, detector=detector)
    return [
        Perception(
            detection=detection,
            injection=detect_injection(
                text, vectors[row], classifier, model_score=float(scores[row, INJECTION_OUTPUT])
            ),
        )
        for row, (text, detection) in enumerate(zip(texts, detections, strict=True))
    ]


def _model_id() -> str:
    """A fingerprint of the shipped perception models (a retrained model: a new cache file)."""
    parts = []
    for path in (MODEL_PATH, CRISIS_MODEL_PATH):
        if path.is_file():
            stat = path.stat()
            parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:10]


def emotion_set(detection: Detection) -> set[str]:
    """The types the product treats as felt: every non-neutral type above the signal threshold, else neutral."""
    found = {
        name for name, value in detection.emotions.items() if name != "neutral" and value > EMOTIONAL_SIGNAL_THRESHOLD
    }
    return found or {"neutral"}
