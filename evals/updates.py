"""The ``updates`` suite: whether a new statement updates an older one (same subject, changed value).

Dataset (``evals/datasets/updates.jsonl``, made by ``scripts/make_update_suite.py`` from hand-written phrasings
for this project and its embedder), one pair a line::

    {"id": "u000", "family": "workplace", "old": "I work at Google.", "new": "I now work at Spotify.",
     "label": "update", "split": "dev"}

``label`` is ``update`` or ``compatible`` (an addition that contradicts nothing); ``split`` is ``dev`` (used to
choose ``tools.updates.UPDATE_SIMILARITY``) or ``test`` (reported). Both texts are embedded with the real embedder
and judged by ``tools.updates.detect_update``, the check the conversation turn makes when it stores a message.
Metrics per split: ``recall`` and ``precision`` of the updates found, for the write-time rule (``rules``) and, as
the baseline from the same run, the seed's similarity gate alone (``seed_gate``: cosine >= 0.8 is an update).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from companion.core.errors import InvalidInputError
from evals.core import Advance, EvalEnv, SuiteOutcome, require
from tools.updates import detect_update

SEED_GATE = 0.8
SPLITS = ("dev", "test")


def _scores(pairs: list[tuple[bool, bool]]) -> dict[str, float]:
    found = sum(predicted and gold for gold, predicted in pairs)
    said = sum(predicted for _, predicted in pairs)
    truly = sum(gold for gold, _ in pairs)
    return {"recall": found / truly if truly else 0.0, "precision": found / said if said else 1.0}


def run_updates(cases: list[dict[str, Any]], env: EvalEnv, advance: Advance) -> SuiteOutcome:
    """Embed every pair, judge it by the write-time rule and by the seed's gate, report recall and precision."""
    for case in cases:
        if require(case, "label", str) not in ("update", "compatible"):
            raise InvalidInputError(f"case {case['id']!r}: label must be 'update' or 'compatible'")
        if require(case, "split", str) not in SPLITS:
            raise InvalidInputError(f"case {case['id']!r}: split must be 'dev' or 'test'")
        require(case, "old", str)
        require(case, "new", str)
    old = np.asarray(env.embedder.embed([case["old"] for case in cases]), dtype=np.float64)
    new = np.asarray(env.embedder.embed([case["new"] for case in cases]), dtype=np.float64)
    norms = np.linalg.norm(old, axis=1) * np.linalg.norm(new, axis=1)
    similarities = (old * new).sum(axis=1) / np.where(norms > 0, norms, 1.0)
    results: list[dict[str, Any]] = []
    judged: dict[str, dict[str, list[tuple[bool, bool]]]] = {s: {"rules": [], "seed_gate": []} for s in SPLITS}
    for case, similarity in zip(cases, similarities, strict=True):
        gold = case["label"] == "update"
        found = detect_update(case["new"], case["old"], float(similarity))
        by_gate = float(similarity) >= SEED_GATE
        judged[case["split"]]["rules"].append((gold, found is not None))
        judged[case["split"]]["seed_gate"].append((gold, by_gate))
        results.append(
            {
                "id": case["id"],
                "split": case["split"],
                "family": case.get("family", ""),
                "similarity": round(float(similarity), 4),
                "update": gold,
                "found": found is not None,
                "why": "" if found is None else f"{found.rule}: {found.subject}",
                "scores": {"correct": float((found is not None) == gold)},
            }
        )
        advance()
    metrics: dict[str, float] = {}
    for split, systems in judged.items():
        for system, pairs in systems.items():
            for name, value in _scores(pairs).items():
                metrics[f"{system}.{split}.{name}"] = round(value, 4)
    metrics["pairs"] = float(len(cases))
    return SuiteOutcome(status="measured", metrics=metrics, cases=results, systems=("rules", "seed_gate"))
