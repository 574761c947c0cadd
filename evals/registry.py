"""The registry of eval suites: ``companion eval NAME`` runs ``SUITES[NAME]`` on its dataset.

Adding a suite is one line in ``SUITES`` below: a name, the JSONL file in ``evals/datasets/`` (or ``None`` if
the runner reads its own data), a runner and a description. The runner is named ``"module:function"`` and imported
only when the suite runs, so ``companion eval --list`` imports no suite (and none of Chroma or LangGraph); a
callable works too. A runner is ``run(cases, env, advance)`` (sync or
async): ``cases`` are the dataset's lines, ``env`` the real services (``evals.core.EvalEnv``), ``advance()``
moves the progress bar by one case. It returns a ``SuiteOutcome`` or a dict: either
``{"metrics": {...}, "cases": [...], "status": "measured"}`` or any dict, whose numbers are taken as the metrics
(nested ones under dotted keys: ``{"macro_f1": {"detector": 0.5}}`` -> ``macro_f1.detector``). An existing
function with another signature goes in through a lambda, e.g.::

    Suite("injection", None, "evals.injection:run_injection", "injection screen vs keywords on held-out splits"),
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evals.corpora import DATASETS_DIR

if TYPE_CHECKING:
    from evals.core import SuiteRunner


@dataclass(frozen=True)
class Suite:
    """One eval suite: its dataset (a file in ``evals/datasets/``) and its runner."""

    name: str
    #: A JSONL file in ``evals/datasets/``, or ``None`` for a suite that reads its own data (it gets no cases).
    dataset: str | None
    #: The runner, or its ``"module:function"`` name (imported by :meth:`runner`).
    run: SuiteRunner | str
    description: str

    def runner(self) -> SuiteRunner:
        """The runner, imported now if it was given by name."""
        if isinstance(self.run, str):
            module, _, function = self.run.partition(":")
            runner: SuiteRunner = getattr(importlib.import_module(module), function)
            return runner
        return self.run

    @property
    def dataset_path(self) -> Path | None:
        """The suite's default dataset, if it has one."""
        return None if self.dataset is None else DATASETS_DIR / self.dataset


SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        Suite(
            "appraisal",
            "appraisal_directed.jsonl",
            "evals.appraisal:run_appraisal",
            "pleasure moves the expected way vs seed rules",
        ),
        Suite(
            "recall", "recall.jsonl", "evals.recall:run_recall", "facts taught among filler, then probed: hit@k, MRR"
        ),
        Suite(
            "updates",
            "updates.jsonl",
            "evals.updates:run_updates",
            "write-time update detection vs the seed's 0.8 gate: recall and precision on dev and test pairs",
        ),
        Suite("isolation", "isolation.jsonl", "evals.isolation:run_isolation", "cross-user probes: leaks must be 0"),
        Suite("persona", "persona.jsonl", "evals.persona:run_persona", "replies stay in character (LLM-judged)"),
        Suite(
            "sensitivity",
            "sensitivity.jsonl",
            "evals.sensitivity:run_sensitivity",
            "sensitivity levels vs hand labels: accuracy, per-level precision/recall, sensitive recall",
        ),
        Suite(
            "emotion",
            "emotion_negation.jsonl",
            "evals.emotion:run_emotion",
            "detector vs lexicon: F1 on GoEmotions test, negations cleared, named probes",
        ),
        Suite(
            "crisis",
            "crisis.jsonl",
            "evals.crisis:run_crisis",
            "detector vs keywords: recall, kind, hard negatives on the dev set; flag rate on ordinary chat",
        ),
        Suite(
            "injection",
            None,
            "evals.injection:run_injection",
            "screen vs keywords: recall on deepset/jackhhao test, FP rate on ordinary chat, multilingual, look-alikes",
        ),
        Suite(
            "summaries",
            None,
            "evals.summaries:run_summaries",
            "offline session summaries vs importance, first and longest lines: LoCoMo fact evidence kept",
        ),
        Suite(
            "importance",
            "importance_everyday.jsonl",
            "evals.importance:run_importance",
            "detector vs length: seed examples within a level, everyday chatter low, LoCoMo share above 500",
        ),
    )
}
