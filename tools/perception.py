"""The perception model: emotion, injection and crisis scores from the embedder's layer-4 token states.

``tools/models/perception.onnx`` (trained by ``scripts/train_perception.py``) is the last two encoder layers of
all-MiniLM-L6-v2, fine-tuned, with mean pooling and one sigmoid output per :data:`OUTPUTS`. It reads the token
states the retrieval embedder computes anyway after layer ``STATES_AFTER_LAYER``
(:meth:`memory.embeddings.OnnxMiniLMEmbedder.embed_with_states`), so a turn pays two encoder layers for all of
its perception. It runs on ONNX Runtime (no torch). ``tools/models/perception.json`` is its card: the decision
threshold of every output (tuned on dev splits), dev metrics and hyper-parameters.

``tools/models/perception_crisis.onnx``, when present, is a second model of the same shape trained with more crisis
rows (crises said without the usual words, and their everyday twins; ``scripts/train_perception.py``, README
"Indirect crises"), quantised to int8. Only its two crisis outputs are read: each is put on the decision scale of its
own threshold (threshold → 0.5) like the main model's, and the two are mixed with the weight its card names
(``crisis_blend_weight``). The main model's emotion and injection outputs are untouched by it, so a crisis change
cannot move the injection guard or the mood.

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

__all__ = [
    "CARD_PATH",
    "CRISIS_MODEL_PATH",
    "CRISIS_OUTPUTS",
    "DEFAULT_EMOTION_WEIGHT",
    "MODEL_PATH",
    "OUTPUTS",
    "PerceptionModel",
    "load_perception_model",
]

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
CRISIS_MODEL_PATH = MODEL_PATH.with_name("perception_crisis.onnx")
#: The crisis outputs, which the crisis model (when present) blends.
CRISIS_OUTPUTS = (OUTPUTS.index("self_harm"), OUTPUTS.index("abuse"))


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

    def __init__(
        self,
        path: Path = MODEL_PATH,
        card_path: Path | None = None,
        *,
        threads: int = 1,
        crisis_path: Path | None = CRISIS_MODEL_PATH,
    ) -> None:
        self.card, self.thresholds = _read_card(path, card_path or path.with_suffix(".json"))
        try:
            self.emotion_weight = float(self.card.get("emotion_model_weight", DEFAULT_EMOTION_WEIGHT))
        except (TypeError, ValueError):
            raise ConfigurationError("the perception model card's emotion_model_weight is not a number") from None
        if not 0.0 <= self.emotion_weight <= 1.0:
            raise ConfigurationError("the perception model card's emotion_model_weight is not within 0-1")
        self._session = _session(path, threads)
        self.path = path
        # The crisis model: its session, its crisis thresholds and its weight in the blend (None: not shipped).
        self._crisis: tuple[Any, npt.NDArray[np.float32], float] | None = None
        self.crisis_path: Path | None = None
        if crisis_path is not None and crisis_path.is_file():
            crisis_card, crisis_thresholds = _read_card(crisis_path, crisis_path.with_suffix(".json"))
            try:
                weight = float(crisis_card["crisis_blend_weight"])
            except (KeyError, TypeError, ValueError):
                raise ConfigurationError(f"the card of {crisis_path} lacks a numeric crisis_blend_weight") from None
            if not 0.0 <= weight <= 1.0:
                raise ConfigurationError(f"the card of {crisis_path}: crisis_blend_weight is not within 0-1")
            columns = list(CRISIS_OUTPUTS)
            self._crisis = (_session(crisis_path, threads), crisis_thresholds[columns], weight)
            self._main_crisis_thresholds = self.thresholds[columns].copy()
            # The blended crisis outputs are already on their decision scale: threshold 0.5.
            self.thresholds[columns] = 0.5
            self.crisis_path = crisis_path

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
            feed = {
                "states": np.ascontiguousarray(states[index, :width], dtype=np.float32),
                "attention_mask": np.ascontiguousarray(attention_mask[index, :width], dtype=np.int64),
            }
            (probs,) = self._session.run(["probabilities"], feed)
            if self._crisis is not None:
                session, thresholds, weight = self._crisis
                (crisis,) = session.run(["probabilities"], feed)
                columns = list(CRISIS_OUTPUTS)
                main = calibrate(probs[:, columns], self._main_crisis_thresholds, 0.5)
                probs[:, columns] = (1.0 - weight) * main + weight * calibrate(crisis[:, columns], thresholds, 0.5)
            out[index] = probs
        return out

    def calibrated(self, probabilities: npt.NDArray[np.float32], points: npt.ArrayLike) -> npt.NDArray[Any]:
        """Probabilities mapped so each output's threshold lands on its consumer's decision point ``points``."""
        return calibrate(probabilities, self.thresholds, points)


def _read_card(path: Path, card_path: Path) -> tuple[dict[str, Any], npt.NDArray[np.float32]]:
    """A model's card and its thresholds in :data:`OUTPUTS` order, checked."""
    try:
        card: dict[str, Any] = json.loads(card_path.read_text(encoding="utf-8"))
        path.stat()  # ONNX Runtime reads the file itself (less memory than handing it the bytes)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the perception model {path}: {exc}") from None
    if tuple(card.get("outputs", ())) != OUTPUTS:
        raise ConfigurationError(f"the perception model {path.name} was trained for other outputs; retrain it")
    named = card.get("thresholds", {})
    try:
        thresholds = np.array([float(named[name]) for name in OUTPUTS], dtype=np.float32)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"the perception model card {card_path.name} lacks a threshold: {exc}") from None
    return card, thresholds


def _session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session for one of the perception models."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(path),
            sess_options=options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=["SkipLayerNormFusion"],
        )
    except Exception as exc:  # onnxruntime raises its own untyped exceptions on invalid models
        raise ConfigurationError(f"cannot load the perception model {path}: {exc}") from exc


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
