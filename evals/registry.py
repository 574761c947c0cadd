"""The registry of eval suites: ``companion eval NAME`` runs ``SUITES[NAME]`` on its dataset.

Adding a suite is one line in ``SUITES`` below: a name, the JSONL file in ``evals/datasets/`` (or ``None`` if
the runner reads its own data), a runner and a description. A runner is ``run(cases, env, advance)`` (sync or
async): ``cases`` are the dataset's lines, ``env`` the real services (``evals.core.EvalEnv``), ``advance()``
moves the progress bar by one case. It returns a ``SuiteOutcome`` or a dict: either
``{"metrics": {...}, "cases": [...], "status": "measured"}`` or any dict, whose numbers are taken as the metrics
(nested ones under dotted keys: ``{"macro_f1": {"detector": 0.5}}`` -> ``macro_f1.detector``). An existing
function with another signature goes in through a lambda, e.g.::

    Suite("injection", None, run_injection, "injection screen vs keywords on held-out splits"),
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evals.appraisal import run_appraisal
from evals.core import SuiteRunner
from evals.corpora import DATASETS_DIR
from evals.crisis import run_crisis
from evals.emotion import run_emotion
from evals.importance import run_importance
from evals.injection import run_injection
from evals.isolation import run_isolation
from evals.persona import run_persona
from evals.recall import run_recall
from evals.sensitivity import run_sensitivity
from evals.updates import run_updates


@dataclass(frozen=True)
class Suite:
    """One eval suite: its dataset (a file in ``evals/datasets/``) and its runner."""

    name: str
    #: A JSONL file in ``evals/datasets/``, or ``None`` for a suite that reads its own data (it gets no cases).
    dataset: str | None
    run: SuiteRunner
    description: str

    @property
    def dataset_path(self) -> Path | None:
        """The suite's default dataset, if it has one."""
        return None if self.dataset is None else DATASETS_DIR / self.dataset


SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        Suite("appraisal", "appraisal_directed.jsonl", run_appraisal, "pleasure moves the expected way vs seed rules"),
        Suite("recall", "recall.jsonl", run_recall, "facts taught among filler, then probed: hit@k, MRR"),
        Suite(
            "updates",
            "updates.jsonl",
            run_updates,
            "write-time update detection vs the seed's 0.8 gate: recall and precision on dev and test pairs",
        ),
        Suite("isolation", "isolation.jsonl", run_isolation, "cross-user probes: leaks must be 0"),
        Suite("persona", "persona.jsonl", run_persona, "replies stay in character (LLM-judged)"),
        Suite(
            "sensitivity",
            "sensitivity.jsonl",
            run_sensitivity,
            "sensitivity levels vs hand labels: accuracy, per-level precision/recall, sensitive recall",
        ),
        Suite(
            "emotion",
            "emotion_negation.jsonl",
            run_emotion,
            "detector vs lexicon: F1 on GoEmotions test, negations cleared, named probes",
        ),
        Suite(
            "crisis",
            "crisis.jsonl",
            run_crisis,
            "detector vs keywords: recall, kind, hard negatives on the dev set; flag rate on ordinary chat",
        ),
        Suite(
            "injection",
            None,
            run_injection,
            "screen vs keywords: recall on deepset/jackhhao test, FP rate on ordinary chat, multilingual, look-alikes",
        ),
        Suite(
            "importance",
            "importance_everyday.jsonl",
            run_importance,
            "detector vs length: seed examples within a level, everyday chatter low, LoCoMo share above 500",
        ),
    )
}
