"""The ``sensitivity`` suite: the classifier's level against hand-labelled messages (design seed 002).

Dataset line (``evals/datasets/sensitivity.jsonl``, written and labelled by hand for this project, with a few
hard cases labelled by meaning rather than keywords)::

    {"id": "ult-pin", "text": "My bank PIN is 4921.", "level": "ultrasecret"}

Metrics, for the local lexicon classifier (``local.*``) and, with a chat model, the model path (``model.*``):
``accuracy``; per level ``precision.<level>`` and ``recall.<level>``; ``macro_f1``; and the two that matter for
safety: ``sensitive_recall`` (messages labelled confidential or above classified confidential or above: not
leaked into shared contexts) and ``overexposed`` (the share of those classified below confidential). The runner
reports numbers only: no pass threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from companion.core.errors import InvalidInputError
from evals.core import Advance, EvalEnv, SuiteOutcome, require
from memory.sensitivity import SECURITY_LEVELS, SENSITIVE_FROM, Sensitivity
from tools.sensitivity import classify_local, classify_with_model


def level_metrics(gold: Sequence[Sensitivity], predicted: Sequence[Sensitivity]) -> dict[str, float]:
    """Accuracy, per-level precision and recall, macro F1, sensitive recall and over-exposure.

    A level never predicted has precision 0 (and one never in ``gold`` recall 0); macro F1 averages the five
    levels' F1.
    """
    if len(gold) != len(predicted) or not gold:
        raise ValueError("need one prediction per gold label, and at least one")
    metrics: dict[str, float] = {"accuracy": sum(g is p for g, p in zip(gold, predicted, strict=True)) / len(gold)}
    f1s = []
    for level in Sensitivity:
        hits = sum(g is level and p is level for g, p in zip(gold, predicted, strict=True))
        said, truly = sum(p is level for p in predicted), sum(g is level for g in gold)
        precision = hits / said if said else 0.0
        recall = hits / truly if truly else 0.0
        metrics[f"precision.{level.value}"] = precision
        metrics[f"recall.{level.value}"] = recall
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    metrics["macro_f1"] = sum(f1s) / len(f1s)
    floor = SECURITY_LEVELS[SENSITIVE_FROM]
    sensitive = [(g, p) for g, p in zip(gold, predicted, strict=True) if SECURITY_LEVELS[g] >= floor]
    caught = sum(SECURITY_LEVELS[p] >= floor for _, p in sensitive)
    metrics["sensitive_recall"] = caught / len(sensitive) if sensitive else 0.0
    metrics["overexposed"] = 1.0 - metrics["sensitive_recall"] if sensitive else 0.0
    return metrics


def _gold(case: dict[str, Any]) -> Sensitivity:
    value = require(case, "level", str)
    try:
        return Sensitivity(value)
    except ValueError:
        raise InvalidInputError(f"case {case['id']!r}: unknown level {value!r}") from None


async def run_sensitivity(cases: list[dict[str, Any]], env: EvalEnv, advance: Advance) -> SuiteOutcome:
    """Classify every case locally (and with the chat model when there is one) and score both."""
    gold = [_gold(case) for case in cases]
    local_predictions, model_predictions, rows = [], [], []
    for case, label in zip(cases, gold, strict=True):
        text = require(case, "text", str)
        local = classify_local(text)
        local_predictions.append(local.level)
        row: dict[str, Any] = {
            "id": case["id"],
            "gold": label.value,
            "local": local.level.value,
            "scores": {"local_correct": float(local.level is label)},
        }
        if env.chat_model is not None:
            model = await classify_with_model(env.chat_model, text, local)
            model_predictions.append(model.level)
            row["model"] = model.level.value
            row["scores"]["model_correct"] = float(model.level is label)
        rows.append(row)
        advance()
    metrics = {f"local.{name}": value for name, value in level_metrics(gold, local_predictions).items()}
    if model_predictions:
        metrics |= {f"model.{name}": value for name, value in level_metrics(gold, model_predictions).items()}
    message = "" if model_predictions else "no chat model configured: local classifier only"
    return SuiteOutcome(status="measured", metrics=metrics, cases=rows, message=message)
