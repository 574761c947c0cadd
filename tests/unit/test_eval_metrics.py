"""Eval metrics, dataset loading, leak detection, verdict parsing and result comparison, checked by hand."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from companion.core.errors import InvalidInputError
from evals.core import SuiteOutcome, hit_at_k, load_jsonl, mean_reciprocal_rank, outcome_from
from evals.isolation import find_leaks
from evals.isolation import validate_case as validate_isolation_case
from evals.persona import parse_verdict
from evals.recall import validate_case as validate_recall_case
from evals.registry import SUITES
from evals.runner import compare_results

ROOT = Path(__file__).resolve().parents[2]


def load_bench_locomo():
    spec = importlib.util.spec_from_file_location("bench_locomo", ROOT / "bench" / "locomo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_locomo"] = module
    spec.loader.exec_module(module)
    return module


def test_hit_at_k_and_mrr_on_a_hand_checked_case() -> None:
    ranks = [1, 2, None, 4]
    assert hit_at_k(ranks, 1) == 0.25
    assert hit_at_k(ranks, 3) == 0.5
    assert hit_at_k(ranks, 5) == 0.75
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 0.5 + 0 + 0.25) / 4)
    assert hit_at_k([], 5) == 0.0 and mean_reciprocal_rank([]) == 0.0


def test_find_leaks_flags_foreign_ids_foreign_text_and_replies() -> None:
    own = {"m1"}
    foreign = {"The code to my garage is 4471."}
    recalled = [
        {"id": "m1", "text": "My bike code is 9032."},
        {"id": "x9", "text": "I like tea."},  # not the asker's memory: a leak even though the text is harmless
    ]
    leaks = find_leaks(recalled, "[offline] You told me: \u201cThe code to my garage is 4471.\u201d", own, foreign)
    assert leaks == ["memory: I like tea.", "reply: The code to my garage is 4471."]
    assert find_leaks([{"id": "m1", "text": "My bike code is 9032."}], "fine", own, foreign) == []


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("PASS\nwarm and brief", True),
        ("**FAIL**: too formal", False),
        ("  \npass.", True),
        ("It depends", None),
        ("", None),
    ],
)
def test_parse_verdict_reads_the_first_word(text: str, verdict: bool | None) -> None:
    assert parse_verdict(text) is verdict


def test_load_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a"}\n\n{"id": "b"\n')
    with pytest.raises(InvalidInputError, match=r"bad.jsonl:3: not valid JSON"):
        load_jsonl(path)
    path.write_text('{"id": "a"}\n{"id": "a"}\n')
    with pytest.raises(InvalidInputError, match="duplicate id 'a'"):
        load_jsonl(path)
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_jsonl(tmp_path / "missing.jsonl")


def test_malformed_cases_are_rejected_before_anything_runs() -> None:
    with pytest.raises(InvalidInputError, match="'expected' must index 'messages'"):
        validate_recall_case({"id": "x", "messages": ["a"], "probes": [{"query": "q", "expected": 1}]})
    with pytest.raises(InvalidInputError, match="two users say"):
        validate_isolation_case(
            {"id": "x", "users": {"a": ["same"], "b": ["same"]}, "probes": [{"as": "a", "query": "q"}]}
        )


def test_every_registered_dataset_loads_and_validates() -> None:
    validators = {"recall": validate_recall_case, "isolation": validate_isolation_case}
    with_datasets = {name: suite for name, suite in SUITES.items() if suite.dataset_path is not None}
    assert {"recall", "isolation", "persona"} <= set(with_datasets)
    for name, suite in with_datasets.items():
        assert suite.dataset_path is not None
        cases = load_jsonl(suite.dataset_path)
        for case in cases:
            validators.get(name, lambda case: None)(case)


def test_a_plain_dict_result_is_accepted_as_metrics() -> None:
    assert outcome_from({"f1": 0.5, "n": 10, "label": "x", "ok": True}).metrics == {"f1": 0.5, "n": 10.0}
    nested = outcome_from({"macro_f1": {"detector": 0.61, "lexicon": 0.3}, "messages": 5427, "classes": []})
    assert nested.metrics == {"macro_f1.detector": 0.61, "macro_f1.lexicon": 0.3, "messages": 5427.0}
    full = outcome_from({"metrics": {"f1": 0.5}, "status": "passed", "message": "ok"})
    assert (full.status, full.metrics, full.message) == ("passed", {"f1": 0.5}, "ok")
    outcome = SuiteOutcome(status="not_run", message="no model")
    assert outcome_from(outcome) is outcome


def test_compare_reports_deltas_dataset_and_config_changes() -> None:
    a = {
        "suite": "recall",
        "status": "measured",
        "metrics": {"hit@1": 0.5, "mrr": 0.6},
        "dataset": {"sha256": "aa"},
        "config": {"mmr_lambda": 0.7},
        "versions": {"chromadb": "1"},
    }
    b = {
        "suite": "recall",
        "status": "measured",
        "metrics": {"hit@1": 0.75, "probes": 4.0},
        "dataset": {"sha256": "bb"},
        "config": {"mmr_lambda": 0.8},
        "versions": {"chromadb": "1"},
    }
    diff = compare_results(a, b)
    assert diff["metrics"] == [
        {"metric": "hit@1", "a": 0.5, "b": 0.75, "delta": 0.25},
        {"metric": "mrr", "a": 0.6, "b": None, "delta": None},
        {"metric": "probes", "a": None, "b": 4.0, "delta": None},
    ]
    assert diff["same_dataset"] is False
    assert diff["config"] == {"mmr_lambda": [0.7, 0.8]} and diff["versions"] == {}
    with pytest.raises(InvalidInputError, match="cannot compare"):
        compare_results(a, {**b, "suite": "isolation"})
    json.dumps(diff)


def test_locomo_evidence_recall_and_reciprocal_rank_by_hand() -> None:
    locomo = load_bench_locomo()
    assert locomo.evidence_recall(["D1:1", "D1:2", "D2:5"], ["D2:5", "D3:1"]) == 0.5
    assert locomo.reciprocal_rank(["D1:1", "D1:2", "D2:5"], ["D2:5", "D3:1"]) == pytest.approx(1 / 3)
    assert locomo.reciprocal_rank(["D1:1"], ["D9:9"]) == 0.0
    assert locomo.parse_evidence(["D1:3", "D8:6; D9:17", "D"]) == (["D1:3", "D8:6", "D9:17"], 2)
    assert locomo.session_timestamp("1:56 pm on 8 May, 2023") == 1683554160.0
    assert locomo.turn_text({"speaker": "Mel", "text": "Look!", "blip_caption": "a dog"}) == (
        "Mel: Look! [shares a photo: a dog]"
    )


def test_locomo_session_hit_and_ndcg_by_hand() -> None:
    locomo = load_bench_locomo()
    retrieved = ["D2:1", "-", "D2:7", "D5:3", "D1:1", "D3:2", "D4:4", "D6:1"]
    assert locomo.ranked_sessions(retrieved) == ["D2", "D5", "D1", "D3", "D4", "D6"]
    assert locomo.session_hit_at_1(retrieved, ["D2:9"]) == 1.0  # another turn of the first session still counts
    assert locomo.session_hit_at_1(retrieved, ["D5:3"]) == 0.0
    assert locomo.session_hit_at_1(["-"], ["D5:3"]) == 0.0
    # relevant sessions D5 (rank 2) and D3 (rank 4); ideal puts them at ranks 1 and 2
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert locomo.session_ndcg_at_5(retrieved, ["D5:3", "D3:9"]) == pytest.approx(expected)
    assert locomo.session_ndcg_at_5(retrieved, ["D6:1"]) == 0.0  # sixth session: outside the first five


def test_eval_user_ids_are_valid_whatever_the_case_id() -> None:
    from evals.core import EvalEnv
    from memory.records import validate_user_id

    env = EvalEnv(long_term=None, short_term=None, embedder=None, chat_model=None, retrieval_k=5, run_id="r1")  # type: ignore[arg-type]
    assert validate_user_id(env.user_id("recall", "my case/1")) == "eval-r1-recall-my_case_1"


def test_the_appraisal_suite_scores_signs_wrong_ways_and_neutral_moves_on_hand_checked_cases() -> None:
    from evals.appraisal import metrics

    def case(expected: str, group: str, new: float, old: float) -> dict[str, object]:
        right = {
            system: float(abs(m) <= 0.05 if expected == "neutral" else (m > 0) == (expected == "positive") and m != 0)
            for system, m in (("new", new), ("seed_rules", old))
        }
        return {
            "expected": expected,
            "group": group,
            "pleasure_change": {"new": new, "seed_rules": old},
            "scores": right,
        }

    results = [
        case("negative", "negative", -0.13, 0.10),  # grief: sorry-for vs the old 'friend' rule
        case("positive", "directed_praise", 0.30, 0.30),
        case("negative", "directed_insult", -0.20, 0.30),  # "thank you for nothing"
        case("positive", "positive", 0.0, 0.07),  # the new appraisal missed it: no move counts as wrong
        case("negative", "negative", 0.008, -0.1),  # a faint happy-for misread: wrong way, but not felt
        case("neutral", "neutral", 0.0, 0.10),
        case("neutral", "neutral", 0.04, 0.0),
    ]
    found = metrics(results)
    assert found["sign_accuracy.new"] == 0.6 and found["sign_accuracy.seed_rules"] == 0.6
    assert found["wrong_way.new"] == 0.2 and found["wrong_way.seed_rules"] == 0.4
    assert found["wrong_way_over_0_02.new"] == 0.0 and found["wrong_way_over_0_02.seed_rules"] == 0.4
    assert found["neutral_within_0_05.new"] == 1.0 and found["neutral_within_0_05.seed_rules"] == 0.5
    assert found["sign_accuracy_directed_insult.seed_rules"] == 0.0 and found["messages"] == 7
