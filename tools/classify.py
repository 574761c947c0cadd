"""What the companion perceives in one text, without storing it (``companion detect --json``, ``POST /v1/classify``).

One encoder run gives the vector and the perception model's scores; from them the emotions, importance, category
and crisis, the injection verdict, the sensitivity classification and the message type. With a chat model,
importance, category and sensitivity are refined by it, as in a chat turn. Top-level keys are one per detector,
so more can join.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memory.embeddings import Embedder
from tools.detection import Detection, detect_with_scores, load_detector, perception_scores, score_with_model
from tools.injection import INJECTION_THRESHOLD, InjectionVerdict, detect_injection, load_classifier
from tools.perception import OUTPUTS
from tools.sensitivity import Classification, classify_local, classify_with_model
from tools.utterance import classify_utterance

if TYPE_CHECKING:  # LangChain is imported only where a chat model is used
    from langchain_core.language_models import BaseChatModel


async def classify_text(
    message: str,
    embedder: Embedder,
    chat_model: BaseChatModel | None,
    *,
    model_name: str | None = None,
    injection_threshold: float = INJECTION_THRESHOLD,
) -> dict[str, Any]:
    """Everything perception says of ``message`` (see the module docstring), with each stage's time in ms.

    The local models run in a worker thread, off the event loop. ``injection_threshold``: the setting.
    """
    local = await asyncio.to_thread(_perceive_locally, message, embedder, injection_threshold)
    detection, sensitivity, scored_by = local.detection, local.sensitivity, "local"
    if chat_model is not None:
        refined = await score_with_model(chat_model, message, detection)
        scored_by = (model_name or "model") if refined is not detection else "local (model failed)"
        detection = refined
        sensitivity = await classify_with_model(chat_model, message, sensitivity)
    return {
        "text": message,
        "emotion": {
            "dominant": detection.emotion,
            "intensity": detection.intensity,
            "is_emotional_signal": detection.is_emotional_signal,
            "intensities": detection.emotions,
            "source": local.emotion_source,
        },
        "importance": {"value": detection.importance, "level": detection.importance_level, "source": scored_by},
        "category": {"value": detection.category, "source": scored_by},
        "crisis": detection.crisis.to_dict(),
        "injection": local.injection.to_dict(),
        "sensitivity": sensitivity.to_dict(),
        "utterance": classify_utterance(message).value,
        "timings_ms": local.timings,
    }


@dataclass(frozen=True, slots=True)
class _Local:
    detection: Detection
    injection: InjectionVerdict
    sensitivity: Classification
    emotion_source: str
    timings: dict[str, float]


def _perceive_locally(message: str, embedder: Embedder, injection_threshold: float) -> _Local:
    detector = load_detector()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    vectors, scores = perception_scores([message], embedder, timings=timings)
    embedded = time.perf_counter()
    detection = detect_with_scores([message], vectors, scores, detector=detector)[0]
    detected = time.perf_counter()
    model_score = None if scores is None else float(scores[0, OUTPUTS.index("injection")])
    injection = detect_injection(
        message, vectors[0], load_classifier(), threshold=injection_threshold, model_score=model_score
    )
    classified_at = time.perf_counter()
    sensitivity = classify_local(message, detection.emotions)
    return _Local(
        detection=detection,
        injection=injection,
        sensitivity=sensitivity,
        emotion_source="local" if scores is None else "perception model",
        timings={
            "embed": timings.get("embed", round((embedded - started) * 1000.0, 3)),
            "perceive": timings.get("perceive", 0.0),
            "detect": round((detected - embedded) * 1000.0, 3),
            "classify": round((time.perf_counter() - classified_at) * 1000.0, 3),
        },
    )
