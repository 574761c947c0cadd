"""The ``recall`` suite: facts taught among filler through the conversation graph, then probed.

Each case is one user's conversation: ``messages`` are sent one by one through the real conversation graph
(offline responder, real Redis, Chroma and embedder), so every message lands in long-term memory exactly as in a
chat. Then each probe's ``query`` is run through ``tools.recall.recall`` (the retrieval the graph does at the start
of a turn, without writing the probe as a new memory) with k = ``RECALL_K``, and the 1-based rank of the memory
written for ``messages[expected]`` is recorded (``None`` if it was not recalled).

Dataset line::

    {"id": "pets", "messages": ["hi!", "My cat is called Miso.", ...],
     "probes": [{"query": "What is my cat's name?", "expected": 1}]}

A probe may name an ``outdated`` message: an older value of the same fact that ``expected`` updated later in the
history ("I work at Initech." ... "I now work at Globex."). The generated cases (``scripts/make_recall_suite.py``)
mix such updates with distractors (the same facts about other people), the probes' own questions asked earlier by
the user, and small talk.

Metrics: ``hit@1``, ``hit@3``, ``hit@5`` (share of probes whose memory is in the first k) and ``mrr`` over all
probes; ``newest_first``: the share of probes with an ``outdated`` message whose expected (newest) memory is recalled
and ranked above the outdated one (or the outdated one is not recalled); ``questions_quoted``: how many questions
the offline responder would quote back as facts over all probes (``nodes.conversation.offline_reply`` on the
recalled memories), and ``questions_in_top2``: the probes whose first two recalled memories hold a question (what a
responder quoting the top memories would have said).
"""

from __future__ import annotations

from typing import Any

from companion.core.errors import InvalidInputError
from evals.core import Advance, EvalEnv, SuiteOutcome, hit_at_k, mean_reciprocal_rank, require
from evals.graph import conversation_graph
from graphs.conversation import run_turn
from nodes.conversation import RetrievedMemory, offline_reply
from tools.recall import Recall, recall
from tools.utterance import UtteranceType, classify_utterance, parse_utterance

RECALL_K = 5
HIT_KS = (1, 3, 5)


def validate_case(case: dict[str, Any]) -> None:
    """Raise ``InvalidInputError`` if a case is malformed (before anything is written)."""
    messages = require(case, "messages", list)
    for probe in require(case, "probes", list):
        if not isinstance(probe, dict) or not isinstance(probe.get("query"), str) or not probe["query"].strip():
            raise InvalidInputError(f"case {case['id']!r}: each probe needs a non-empty 'query'")
        for key in ("expected", "outdated"):
            index = probe.get(key)
            if key == "outdated" and index is None:
                continue
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(messages):
                raise InvalidInputError(
                    f"case {case['id']!r}: probe '{key}' must index 'messages' (0-{len(messages) - 1})"
                )


async def run_recall(cases: list[dict[str, Any]], env: EvalEnv, advance: Advance) -> SuiteOutcome:
    """Teach each case through the graph, probe it, and report hit@k and MRR over all probes."""
    for case in cases:
        validate_case(case)
    graph = conversation_graph(env)
    ranks: list[int | None] = []
    newest_first: list[bool] = []
    quoted_questions = 0
    top2_questions = 0
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
                extra: dict[str, float] = {}
                if probe.get("outdated") is not None:
                    old = memory_ids[probe["outdated"]]
                    old_rank = recalled.index(old) + 1 if old in recalled else None
                    newest_first.append(rank is not None and (old_rank is None or rank < old_rank))
                    extra["newest_first"] = float(newest_first[-1])
                quoted = _quoted_questions(found)
                quoted_questions += quoted
                top2 = any(
                    classify_utterance(item.candidate.text) is UtteranceType.QUESTION for item in found.selected[:2]
                )
                top2_questions += top2
                results.append(
                    {
                        "id": f"{case['id']}/{len(results)}",
                        "case": case["id"],
                        "query": probe["query"],
                        "expected": case["messages"][probe["expected"]],
                        "rank": rank,
                        "recalled": [item.candidate.text for item in found.selected],
                        "scores": {f"hit@{k}": float(rank is not None and rank <= k) for k in HIT_KS}
                        | {"reciprocal_rank": 1.0 / rank if rank else 0.0, "questions_quoted": float(quoted)}
                        | extra,
                    }
                )
        finally:
            env.long_term.delete_user(user_id)
        advance()
    metrics = {f"hit@{k}": round(hit_at_k(ranks, k), 4) for k in HIT_KS}
    metrics["mrr"] = round(mean_reciprocal_rank(ranks), 4)
    metrics["probes"] = float(len(ranks))
    metrics["newest_first"] = round(sum(newest_first) / len(newest_first), 4) if newest_first else 1.0
    metrics["update_probes"] = float(len(newest_first))
    metrics["questions_quoted"] = float(quoted_questions)
    metrics["questions_in_top2"] = float(top2_questions)
    return SuiteOutcome(status="measured", metrics=metrics, cases=results)


def _quoted_questions(found: Recall) -> int:
    """How many questions the offline responder would quote back as facts from what ``found`` recalled."""
    memories = [
        RetrievedMemory(
            id=item.candidate.id,
            text=item.candidate.text,
            score=item.score,
            similarity=item.candidate.similarity,
            kind=str(item.candidate.metadata.get("kind", "episodic")),
            created_at=float(item.candidate.metadata.get("created_at", 0.0)),
            utterance=parse_utterance(item.candidate.metadata.get("utterance"), item.candidate.text).value,
            superseded=bool(item.candidate.metadata.get("superseded_by")),
        )
        for item in found.selected
    ]
    reply = offline_reply(memories)
    return sum(
        1
        for memory in memories
        if classify_utterance(memory["text"]) is UtteranceType.QUESTION and f"\u201c{memory['text']}\u201d" in reply
    )
