"""The eval suites end to end on tiny datasets: real graph, Redis, Chroma and embedder; metrics checked by hand.

These assert that the metrics are computed right on cases whose answer is known, not that a score is reached.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from evals.core import EvalEnv
from evals.registry import SUITES, Suite
from evals.runner import run_suite
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.short_term import ShortTermStore
from tests.conftest import fake_chat_model
from tests.integration.test_cli import cli_env, companion, one_json, sync_redis  # noqa: F401

# Probe 1 is a fact's own words (similarity 1.0: rank 1); probe 2 asks for a second cat fact with the first fact's
# words (0.70 similar to it, rank 2 after the exact match); probe 3 asks for the breakfast message with an unrelated
# question (similarity 0.10, under the 0.3 threshold: not recalled). Ranks 1, 2, None.
RECALL_CASE = {
    "id": "hand-checked",
    "messages": ["My cat is called Miso.", "My cat Miso likes to sleep on the sofa.", "I had toast for breakfast."],
    "probes": [
        {"query": "My cat is called Miso.", "expected": 0},
        {"query": "My cat is called Miso.", "expected": 1},
        {"query": "What is the capital of Australia?", "expected": 2},
    ],
}
# Ben asks with Ana's exact words: her memory would be the best match if the stores leaked.
ISOLATION_CASE = {
    "id": "hand-checked",
    "users": {"ana": ["My dog is called Rex."], "ben": ["My dog is called Bolt."]},
    "probes": [
        {"as": "ben", "query": "My dog is called Rex."},
        {"as": "ana", "query": "My dog is called Rex.", "own": True},
    ],
}


def write_jsonl(path: Path, *cases: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(case) + "\n" for case in cases))
    return path


def make_env(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, chat_model: Any = None
) -> EvalEnv:
    return EvalEnv(
        long_term=long_term, short_term=short_term, embedder=embedder, chat_model=chat_model, retrieval_k=5, run_id="t1"
    )


async def test_recall_suite_computes_hit_at_k_and_mrr_on_a_hand_checked_case(
    tmp_path: Path, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    dataset = write_jsonl(tmp_path / "recall.jsonl", RECALL_CASE)
    env = make_env(long_term, short_term, embedder)
    result, json_path = await run_suite(SUITES["recall"], env, out_dir=tmp_path / "out", dataset=dataset, upload=False)

    assert [case["rank"] for case in result["cases"]] == [1, 2, None]
    assert result["metrics"] == {
        "hit@1": 0.3333,
        "hit@3": 0.6667,
        "hit@5": 0.6667,
        "mrr": 0.5,
        "probes": 3.0,
        "newest_first": 1.0,  # no probe names an outdated message
        "update_probes": 0.0,
        "questions_quoted": 0.0,
        "questions_in_top2": 0.0,
    }
    assert result["status"] == "measured"
    # the taught messages went through the graph into Chroma, and the run cleaned up after itself
    assert long_term.count(env.user_id("recall", "hand-checked")) == 0
    written = json.loads(json_path.read_text())
    assert written["dataset"]["sha256"] == hashlib.sha256(dataset.read_bytes()).hexdigest()
    assert written["config"]["mmr_lambda"] == 0.7 and written["config"]["chat_model"] is None
    assert {"chromadb", "langgraph", "python"} <= set(written["versions"])
    assert Path(written["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(written["plot"]).with_suffix(".json") == json_path


async def test_recall_suite_ranks_the_newest_value_first_and_quotes_no_question(
    tmp_path: Path, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    case = {
        "id": "moved-on",
        "messages": ["I work at Initech.", "Where do I work?", "lol ok", "I got a new job at Globex."],
        "probes": [{"query": "Where do I work?", "expected": 3, "outdated": 0}],
    }
    dataset = write_jsonl(tmp_path / "recall.jsonl", case)
    env = make_env(long_term, short_term, embedder)
    result, _ = await run_suite(SUITES["recall"], env, out_dir=tmp_path / "out", dataset=dataset, upload=False)

    (probe,) = result["cases"]
    assert probe["recalled"][0] == "I got a new job at Globex."
    assert result["metrics"]["newest_first"] == 1.0 and result["metrics"]["update_probes"] == 1.0
    assert result["metrics"]["questions_quoted"] == 0.0


async def test_isolation_suite_finds_no_leak_and_recalls_own_facts(
    tmp_path: Path, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    dataset = write_jsonl(tmp_path / "isolation.jsonl", ISOLATION_CASE)
    env = make_env(long_term, short_term, embedder)
    result, _ = await run_suite(SUITES["isolation"], env, out_dir=tmp_path, dataset=dataset, upload=False)

    assert result["metrics"] == {"leaks": 0.0, "leaked_memories": 0.0, "probes": 2.0, "own_recall": 1.0}
    assert result["status"] == "passed"
    ben, ana = result["cases"]
    assert ben["leaks"] == [] and "My dog is called Rex." not in ben["recalled"]
    assert ana["recalled"][0] == "My dog is called Rex."


async def test_persona_without_a_chat_model_is_not_run_never_passed(
    tmp_path: Path, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    env = make_env(long_term, short_term, embedder)
    result, json_path = await run_suite(SUITES["persona"], env, out_dir=tmp_path, upload=False)
    assert result["status"] == "not_run"
    assert result["metrics"] == {} and result["cases"] == []
    assert "COMPANION_CHAT_MODEL" in result["message"]
    assert json.loads(json_path.read_text())["status"] == "not_run"


async def test_persona_is_judged_by_the_chat_model(
    tmp_path: Path, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    cases = [{"id": f"c{i}", "message": f"Hello number {i}", "expectation": "warm"} for i in range(3)]
    dataset = write_jsonl(tmp_path / "persona.jsonl", *cases)
    # each case: the companion's reply, then the judge's verdict
    model = fake_chat_model("Hi! I'm Mira.", "PASS\nwarm", "Greetings, user.", "FAIL\ncold", "Hey!", "Not sure.")
    env = make_env(long_term, short_term, embedder, chat_model=model)
    result, _ = await run_suite(SUITES["persona"], env, out_dir=tmp_path, dataset=dataset, upload=False)
    assert [case["verdict"] for case in result["cases"]] == ["PASS", "FAIL", "UNJUDGED"]
    assert result["cases"][0]["reply"] == "Hi! I'm Mira."
    assert result["metrics"] == {"pass_rate": 0.5, "passed": 1.0, "failed": 1.0, "unjudged": 1.0}


async def test_a_suite_registered_in_one_line_runs_with_its_own_data(
    tmp_path: Path, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    def run_own_eval(*, limit: int) -> dict[str, Any]:  # stands for e.g. run_emotion_eval(...) -> dict
        return {"macro_f1": {"detector": 0.5, "lexicon": 0.25}, "messages": limit}

    suite = Suite("own-data", None, lambda cases, env, advance: run_own_eval(limit=4), "reads its own data")
    env = make_env(long_term, short_term, embedder)
    result, json_path = await run_suite(suite, env, out_dir=tmp_path, upload=False)
    assert result["metrics"] == {"macro_f1.detector": 0.5, "macro_f1.lexicon": 0.25, "messages": 4.0}
    assert result["status"] == "measured" and result["dataset"] == {"path": None, "sha256": None, "cases": 0}
    assert json_path.with_suffix(".png").is_file()


@pytest.mark.usefixtures("sync_redis")
def test_companion_eval_command_runs_and_compares(tmp_path: Path, data_dir: Path, redis_url: str) -> None:
    env = cli_env(data_dir, redis_url)
    dataset = write_jsonl(tmp_path / "recall.jsonl", RECALL_CASE)
    out = tmp_path / "results"
    first = one_json(
        companion("eval", "recall", "--dataset", str(dataset), "--out", str(out), "--json", env=env, cwd=tmp_path)
    )
    assert first["status"] == "measured" and first["metrics"]["mrr"] == 0.5
    assert Path(first["result"]).is_file() and Path(first["result"]).with_suffix(".png").is_file()

    second = json.loads(Path(first["result"]).read_text())
    second["metrics"]["mrr"] = 0.75
    other = tmp_path / "other.json"
    other.write_text(json.dumps(second))
    diff = one_json(companion("eval", "--compare", first["result"], str(other), "--json", env=env, cwd=tmp_path))
    assert {"metric": "mrr", "a": 0.5, "b": 0.75, "delta": 0.25} in diff["metrics"]
    assert diff["same_dataset"] is True

    table = companion("eval", "--compare", first["result"], str(other), env=env, cwd=tmp_path)
    assert table.returncode == 0 and "+0.25" in table.stdout

    unknown = companion("eval", "nope", env=env, cwd=tmp_path)
    assert unknown.returncode == 2
    [line] = unknown.stderr.strip().splitlines()
    assert line.startswith("error: unknown eval suite 'nope'; known: ") and "recall" in line
