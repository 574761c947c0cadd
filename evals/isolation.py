"""The ``isolation`` suite: one user must never see another user's memories.

Each case has several users who tell the companion similar things (everyone has a pet, a code, a doctor), all
through the real conversation graph. Then each probe is a real graph turn by ``as`` asking ``query``: a **leak** is
a recalled memory that is not one of the asker's own, or another user's message appearing in a recalled memory or
in the reply. Probes with ``"own": true`` ask about the asker's own fact and must recall it, so that a store
returning nothing cannot pass for isolation.

Dataset line::

    {"id": "pets", "users": {"ana": ["My dog is called Rex."], "ben": ["My dog is called Bolt."]},
     "probes": [{"as": "ben", "query": "Is my dog called Rex?"}, {"as": "ana", "query": "my dog", "own": true}]}

Metrics: ``leaks`` (probes with any leak; the suite passes only at 0), ``leaked_memories``, ``probes``, and
``own_recall`` (share of ``own`` probes whose fact was recalled).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from companion.core.errors import InvalidInputError
from evals.core import Advance, EvalEnv, SuiteOutcome, require
from evals.graph import conversation_graph
from graphs.conversation import run_turn


def find_leaks(
    recalled: Iterable[Mapping[str, Any]], reply: str, own_ids: set[str], foreign_texts: set[str]
) -> list[str]:
    """What leaked into one probe's turn: recalled memories the asker does not own, and foreign texts in the reply."""
    leaks = []
    for memory in recalled:
        if memory["id"] not in own_ids or any(text in memory["text"] for text in foreign_texts):
            leaks.append(f"memory: {memory['text']}")
    leaks.extend(f"reply: {text}" for text in foreign_texts if text in reply)
    return leaks


def validate_case(case: dict[str, Any]) -> None:
    """Raise ``InvalidInputError`` if a case is malformed or two users say the very same thing."""
    users = require(case, "users", dict)
    if len(users) < 2:
        raise InvalidInputError(f"case {case['id']!r}: isolation needs at least two users")
    owner: dict[str, str] = {}
    for name, messages in users.items():
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, str) and m.strip() for m in messages)
        ):
            raise InvalidInputError(f"case {case['id']!r}: user {name!r} needs a list of non-empty messages")
        for message in messages:
            if owner.setdefault(message.strip(), name) != name:
                raise InvalidInputError(f"case {case['id']!r}: two users say {message!r}; leaks would be ambiguous")
    for probe in require(case, "probes", list):
        if not isinstance(probe, dict) or probe.get("as") not in users or not str(probe.get("query", "")).strip():
            raise InvalidInputError(f"case {case['id']!r}: each probe needs 'as' (one of the users) and a 'query'")


async def run_isolation(cases: list[dict[str, Any]], env: EvalEnv, advance: Advance) -> SuiteOutcome:
    """Teach every user of each case, run the probes as graph turns, count leaks."""
    for case in cases:
        validate_case(case)
    graph = conversation_graph(env)
    results: list[dict[str, Any]] = []
    leaked_probes = leaked_memories = own_probes = own_hits = 0
    for case in cases:
        users = {name: env.user_id("iso", case["id"], name) for name in case["users"]}
        owned: dict[str, set[str]] = {name: set() for name in users}
        taught: dict[str, list[str]] = {name: [m.strip() for m in case["users"][name]] for name in users}
        said: dict[str, set[str]] = {name: set(texts) for name, texts in taught.items()}
        try:
            for name, messages in taught.items():
                for message in messages:
                    state = await run_turn(graph, user_id=users[name], conversation_id="teach", message=message)
                    owned[name].add(state["memory_id"])
            for number, probe in enumerate(case["probes"]):
                asker = probe["as"]
                state = await run_turn(graph, user_id=users[asker], conversation_id="probe", message=probe["query"])
                recalled = list(state.get("memories", []))
                # what others said, unless the asker said the same words (then seeing them is no leak)
                foreign = {text for name, texts in taught.items() if name != asker for text in texts} - said[asker]
                leaks = find_leaks(recalled, state.get("reply", ""), owned[asker], foreign)
                owned[asker].add(state["memory_id"])  # the probe itself is now the asker's memory
                said[asker].add(probe["query"].strip())
                own_hit = None
                if probe.get("own"):
                    own_probes += 1
                    own_hit = any(m["text"] in taught[asker] for m in recalled)
                    own_hits += int(own_hit)
                leaked_probes += int(bool(leaks))
                leaked_memories += sum(1 for leak in leaks if leak.startswith("memory: "))
                results.append(
                    {
                        "id": f"{case['id']}/{number}",
                        "as": asker,
                        "query": probe["query"],
                        "recalled": [m["text"] for m in recalled],
                        "leaks": leaks,
                        "own_hit": own_hit,
                        "scores": {"leaked": float(bool(leaks))}
                        | ({} if own_hit is None else {"own_hit": float(own_hit)}),
                    }
                )
        finally:
            for user_id in users.values():
                env.long_term.delete_user(user_id)
        advance()
    metrics = {
        "leaks": float(leaked_probes),
        "leaked_memories": float(leaked_memories),
        "probes": float(len(results)),
        "own_recall": round(own_hits / own_probes, 4) if own_probes else 0.0,
    }
    ok = leaked_probes == 0 and own_hits == own_probes
    message = "" if ok else f"{leaked_probes} probe(s) leaked; own facts recalled {own_hits}/{own_probes}"
    return SuiteOutcome(status="passed" if ok else "failed", metrics=metrics, cases=results, message=message)
