"""The perception model: emotion, injection and crisis scores from the embedder's layer-4 token states.

``tools/models/perception.onnx`` (trained by ``scripts/train_perception.py``) is the last two encoder layers of
all-MiniLM-L6-v2, fine-tuned, with mean pooling and one sigmoid output per :data:`OUTPUTS`. It reads the token
states the retrieval embedder computes anyway after layer ``STATES_AFTER_LAYER``
(:meth:`memory.embeddings.OnnxMiniLMEmbedder.embed_with_states`), so a turn pays two encoder layers for all of
its perception. It runs on ONNX Runtime (no torch). ``tools/models/perception.json`` is its card: the decision
threshold of every output (tuned on dev splits), dev metrics and hyper-parameters.

:meth:`PerceptionModel.calibrated` maps each output's probability ``p`` onto the scale its consumer reads, with
the output's threshold ``θ`` landing exactly on the consumer's decision point ``d`` (``p ∈ [0, θ] → [0, d]``,
``p ∈ [θ, 1] → [d, 1]``): emotions on :data:`tools.detection.EMOTIONAL_SIGNAL_THRESHOLD` / 100, injection on
:data:`tools.injection.INJECTION_THRESHOLD`, crisis on :data:`tools.crisis.CRISIS_THRESHOLD`.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from companion.core.errors import ConfigurationError

logger = logging.getLogger(__name__)

__all__ = ["CARD_PATH", "DEFAULT_EMOTION_WEIGHT", "MODEL_PATH", "OUTPUTS", "PerceptionModel", "load_perception_model"]

#: The model's outputs, in order: the learnable emotion types (``tools.detection.LEARNED_TYPES``), then injection
#: and the crisis kinds.
OUTPUTS: tuple[str, ...] = (
    "happiness",
    "sadness",
    "anxiety",
    "excitement",
    "anger",
    "love",
    "fear",
    "neutral",
    "injection",
    "self_harm",
    "abuse",
)

#: Weight of the model's emotion scores against the frozen classifier's when a card names none (cards written by
#: ``scripts/train_perception.py`` carry ``emotion_model_weight``, chosen on GoEmotions dev).
DEFAULT_EMOTION_WEIGHT = 0.5

MODEL_PATH = Path(__file__).resolve().parent / "models" / "perception.onnx"
CARD_PATH = MODEL_PATH.with_suffix(".json")


def calibrate(p: npt.NDArray[np.float32], theta: npt.NDArray[np.float32], point: npt.ArrayLike) -> npt.NDArray[Any]:
    """Piecewise-linear map of probabilities ``p`` with thresholds ``theta`` onto ``[0, 1]``, ``theta → point``."""
    d = np.asarray(point, dtype=np.float32)
    theta = np.clip(theta, 1e-3, 1.0 - 1e-3)
    low = p / theta * d
    high = d + (p - theta) / (1.0 - theta) * (1.0 - d)
    out: npt.NDArray[Any] = np.where(p <= theta, low, high)
    return out


class PerceptionModel:
    """The ONNX perception model and its card. Thread-safe (ONNX Runtime sessions are)."""

    def __init__(self, path: Path = MODEL_PATH, card_path: Path | None = None, *, threads: int = 1) -> None:
        import onnxruntime as ort

        card_path = card_path or path.with_suffix(".json")
        try:
            self.card: dict[str, Any] = json.loads(card_path.read_text(encoding="utf-8"))
            path.stat()  # ONNX Runtime reads the file itself (less memory than handing it the bytes)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read the perception model {path}: {exc}") from None
        if tuple(self.card.get("outputs", ())) != OUTPUTS:
            raise ConfigurationError("the perception model was trained for other outputs; retrain it")
        thresholds = self.card.get("thresholds", {})
        try:
            self.thresholds = np.array([float(thresholds[name]) for name in OUTPUTS], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"the perception model card lacks a threshold: {exc}") from None
        try:
            self.emotion_weight = float(self.card.get("emotion_model_weight", DEFAULT_EMOTION_WEIGHT))
        except (TypeError, ValueError):
            raise ConfigurationError("the perception model card's emotion_model_weight is not a number") from None
        if not 0.0 <= self.emotion_weight <= 1.0:
            raise ConfigurationError("the perception model card's emotion_model_weight is not within 0-1")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(path),
                sess_options=options,
                providers=["CPUExecutionProvider"],
                disabled_optimizers=["SkipLayerNormFusion"],
            )
        except Exception as exc:  # onnxruntime raises its own untyped exceptions on invalid models
            raise ConfigurationError(f"cannot load the perception model {path}: {exc}") from exc
        self.path = path

    def probabilities(
        self, states: npt.NDArray[np.float32], attention_mask: npt.NDArray[np.int64], *, batch: int = 64
    ) -> npt.NDArray[np.float32]:
        """Sigmoid outputs ``(n, len(OUTPUTS))`` for layer-4 ``states`` ``(n, seq, 384)`` and their mask."""
        n = states.shape[0]
        out = np.zeros((n, len(OUTPUTS)), dtype=np.float32)
        if n == 0:
            return out
        lengths = attention_mask.sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        for start in range(0, n, batch):
            index = order[start : start + batch]
            width = max(int(lengths[index].max()), 1)
            (probs,) = self._session.run(
                ["probabilities"],
                {
                    "states": np.ascontiguousarray(states[index, :width], dtype=np.float32),
                    "attention_mask": np.ascontiguousarray(attention_mask[index, :width], dtype=np.int64),
                },
            )
            out[index] = probs
        return out

    def calibrated(self, probabilities: npt.NDArray[np.float32], points: npt.ArrayLike) -> npt.NDArray[Any]:
        """Probabilities mapped so each output's threshold lands on its consumer's decision point ``points``."""
        return calibrate(probabilities, self.thresholds, points)


_model: PerceptionModel | None = None
_model_lock = threading.Lock()


def load_perception_model() -> PerceptionModel:
    """The shipped perception model (loaded once per process).

    Raises:
        ConfigurationError: the model file or its card is missing or unreadable.
    """
    global _model
    with _model_lock:
        if _model is None:
            _model = PerceptionModel()
        return _model
