"""The ``sensitivity`` eval suite: its metrics on a case checked by hand, and its dataset."""

import asyncio

import pytest

from evals.core import EvalEnv, load_jsonl
from evals.registry import SUITES
from evals.sensitivity import level_metrics, run_sensitivity
from memory.sensitivity import Sensitivity

G, CH, C, S, U = (
    Sensitivity.GENERAL,
    Sensitivity.CHRONOLOGICAL,
    Sensitivity.CONFIDENTIAL,
    Sensitivity.SECRET,
    Sensitivity.ULTRASECRET,
)


def test_level_metrics_on_a_hand_checked_case() -> None:
    gold = [G, G, C, S, U, U]
    predicted = [G, CH, C, C, U, G]
    metrics = level_metrics(gold, predicted)
    assert metrics["accuracy"] == pytest.approx(3 / 6)
    # general: said twice (right once), truly twice
    assert (metrics["precision.general"], metrics["recall.general"]) == (0.5, 0.5)
    # chronological: said once, never right, never true
    assert (metrics["precision.chronological"], metrics["recall.chronological"]) == (0.0, 0.0)
    # confidential: said twice (right once: the secret was under-classified as confidential), truly once
    assert (metrics["precision.confidential"], metrics["recall.confidential"]) == (0.5, 1.0)
    assert (metrics["precision.secret"], metrics["recall.secret"]) == (0.0, 0.0)
    assert (metrics["precision.ultrasecret"], metrics["recall.ultrasecret"]) == (1.0, 0.5)
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0 + 2 / 3 + 0 + 2 / 3) / 5)
    # of the four sensitive messages, three stay at confidential or above; the ultrasecret one read as general leaks
    assert metrics["sensitive_recall"] == pytest.approx(0.75) and metrics["overexposed"] == pytest.approx(0.25)


def test_level_metrics_need_aligned_non_empty_inputs() -> None:
    with pytest.raises(ValueError, match="one prediction per gold label"):
        level_metrics([G], [])


def test_the_suite_is_registered_and_scores_its_dataset() -> None:
    suite = SUITES["sensitivity"]
    assert suite.dataset_path is not None
    cases = load_jsonl(suite.dataset_path)
    assert len(cases) >= 60 and {case["level"] for case in cases} == {level.value for level in Sensitivity}
    env = EvalEnv(long_term=None, short_term=None, embedder=None, chat_model=None, retrieval_k=5, run_id="t")  # type: ignore[arg-type]
    ticks: list[int] = []
    outcome = asyncio.run(run_sensitivity(cases, env, lambda: ticks.append(1)))
    assert outcome.status == "measured" and len(ticks) == len(cases) == len(outcome.cases)
    assert 0.0 <= outcome.metrics["local.accuracy"] <= 1.0 and "model.accuracy" not in outcome.metrics
    correct = sum(row["scores"]["local_correct"] for row in outcome.cases)
    assert outcome.metrics["local.accuracy"] == pytest.approx(correct / len(cases))
