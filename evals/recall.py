"""The ``recall`` suite: facts taught among filler through the conversation graph, then probed.

Each case is one user's conversation: ``messages`` are sent one by one through the real conversation graph
(offline responder, real Redis, Chroma and embedder), so every message lands in long-term memory exactly as in a
chat. Then each probe's ``query`` is run through ``tools.recall.recall`` (the retrieval the graph does at the start
of a turn, without writing the probe as a new memory) with k = ``RECALL_K``, and the 1-based rank of the memory
written for ``messages[expected]`` is recorded (``None`` if it was not recalled).

Dataset line::

    {"id": "pets", "messages": ["hi!", "My cat is called Miso.", ...],
     "probes": [{"query": "What is my cat's name?", "expected": 1}]}

Metrics: ``hit@1``, ``hit@3``, ``hit@5`` (share of probes whose memory is in the first k) and ``mrr``.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from companion.errors import InvalidInputError
from evals.core import Advance, EvalEnv, SuiteOutcome, hit_at_k, mean_reciprocal_rank, require
from graphs.conversation import build_graph, run_turn
from tools.recall import recall

RECALL_K = 5
HIT_KS = (1, 3, 5)


def validate_case(case: dict[str, Any]) -> None:
    """Raise ``InvalidInputError`` if a case is malformed (before anything is written)."""
    messages = require(case, "messages", list)
    for probe in require(case, "probes", list):
        if not isinstance(probe, dict) or not isinstance(probe.get("query"), str) or not probe["query"].strip():
            raise InvalidInputError(f"case {case['id']!r}: each probe needs a non-empty 'query'")
        expected = probe.get("expected")
        if not isinstance(expected, int) or isinstance(expected, bool) or not 0 <= expected < len(messages):
            raise InvalidInputError(
                f"case {case['id']!r}: probe 'expected' must index 'messages' (0-{len(messages) - 1})"
            )


async def run_recall(cases: list[dict[str, Any]], env: EvalEnv, advance: Advance) -> SuiteOutcome:
    """Teach each case through the graph, probe it, and report hit@k and MRR over all probes."""
    for case in cases:
        validate_case(case)
    graph = build_graph(
        long_term=env.long_term,
        short_term=env.short_term,
        embedder=env.embedder,
        retrieval_k=env.retrieval_k,
        checkpointer=InMemorySaver(),
    )
    ranks: list[int | None] = []
    results: list[dict[str, Any]] = []
    for case in cases:
        user_id = env.user_id("recall", case["id"])
        memory_ids = []
        try:
            for message in case["messages"]:
                state = await run_turn(graph, user_id=user_id, conversation_id="teach", message=message)
                memory_ids.append(state["memory_id"])
            for probe in case["probes"]:
                found = recall(env.long_term, env.embedder, user_id, probe["query"].strip(), RECALL_K)
                recalled = [item.candidate.id for item in found.selected]
                wanted = memory_ids[probe["expected"]]
                rank = recalled.index(wanted) + 1 if wanted in recalled else None
                ranks.append(rank)
                results.append(
                    {
                        "id": f"{case['id']}/{len(results)}",
                        "case": case["id"],
                        "query": probe["query"],
                        "expected": case["messages"][probe["expected"]],
                        "rank": rank,
                        "recalled": [item.candidate.text for item in found.selected],
                        "scores": {f"hit@{k}": float(rank is not None and rank <= k) for k in HIT_KS}
                        | {"reciprocal_rank": 1.0 / rank if rank else 0.0},
                    }
                )
        finally:
            env.long_term.delete_user(user_id)
        advance()
    metrics = {f"hit@{k}": round(hit_at_k(ranks, k), 4) for k in HIT_KS}
    metrics["mrr"] = round(mean_reciprocal_rank(ranks), 4)
    metrics["probes"] = float(len(ranks))
    return SuiteOutcome(status="measured", metrics=metrics, cases=results)
