"""What every eval suite shares: the services a run gets, the outcome it returns, the metric helpers.

A suite is a runner ``run(cases, env, advance) -> SuiteOutcome`` (sync or async) over the cases of a JSONL
dataset; ``advance()`` moves the progress bar by one case. See ``evals/registry.py`` to add one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from langchain_core.language_models import BaseChatModel

from companion.core.errors import InvalidInputError
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.short_term import ShortTermStore

#: ``measured``: numbers only, nothing to pass or fail; ``passed``/``failed``: the suite has a pass condition
#: (isolation: no leaks); ``not_run``: a capability it needs is missing (persona without a chat model).
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.:@-]")

Status = Literal["measured", "passed", "failed", "not_run"]
STATUSES: tuple[str, ...] = ("measured", "passed", "failed", "not_run")


@dataclass(frozen=True, kw_only=True)
class EvalEnv:
    """The real services a suite runs against, and the run's id (prefix of every user id it creates)."""

    long_term: LongTermStore
    short_term: ShortTermStore
    embedder: Embedder
    chat_model: BaseChatModel | None
    retrieval_k: int
    run_id: str
    #: Where suites may keep derived data between runs (the perception suites' embeddings); ``None``: no cache.
    cache_dir: Path | None = None

    def user_id(self, *parts: str) -> str:
        """A user id private to this run, e.g. ``eval-<run>-pets``."""
        return _UNSAFE_ID_CHARS.sub("_", "-".join(("eval", self.run_id, *parts)))[:128]


@dataclass(kw_only=True)
class SuiteOutcome:
    """What a suite returns: aggregate metrics, one entry per case (``id`` + numeric ``scores``), a status."""

    status: Status
    metrics: dict[str, float] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    #: The systems compared in the same run (``("detector", "baseline")``): metrics named ``<system>.<metric>``
    #: are then plotted side by side.
    systems: tuple[str, ...] = ()
    #: Anything else worth keeping with the result: data sources and their sha256, targets, definitions.
    details: dict[str, Any] = field(default_factory=dict)


class Advance(Protocol):
    """The progress callback: ``advance()`` moves the bar by one case.

    A suite that reads its own data can also set the bar's ``total`` and ``description`` and move it by ``n``:
    ``advance(0, total=5000, description="embedding")``, then ``advance(64)`` per batch.
    """

    def __call__(self, n: int = 1, *, total: int | None = None, description: str | None = None) -> None:
        """Move the bar by ``n``, optionally resetting its total and description."""


SuiteRunner = Callable[
    [list[dict[str, Any]], EvalEnv, Advance],
    "SuiteOutcome | Mapping[str, Any] | Awaitable[SuiteOutcome | Mapping[str, Any]]",
]


def outcome_from(value: SuiteOutcome | Mapping[str, Any]) -> SuiteOutcome:
    """Normalise what a runner returned: a ``SuiteOutcome`` or a plain dict.

    A dict is either ``{"metrics": ..., "cases": ..., "status": ..., "message": ...}`` or any dict whose numbers
    (nested ones under dotted keys) are the metrics, so an existing ``run_x_eval(...) -> dict`` can be registered
    as it is.
    """
    if isinstance(value, SuiteOutcome):
        return value
    if "metrics" in value:
        status = str(value.get("status", "measured"))
        if status not in STATUSES:
            raise ValueError(f"unknown suite status {status!r}")
        return SuiteOutcome(
            status=status,  # type: ignore[arg-type]
            metrics={str(k): float(v) for k, v in dict(value["metrics"]).items()},
            cases=list(value.get("cases", [])),
            message=str(value.get("message", "")),
            systems=tuple(value.get("systems", ())),
            details=dict(value.get("details", {})),
        )
    return SuiteOutcome(status="measured", metrics=flatten_numbers(value))


def flatten_numbers(value: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numbers of a (nested) dict, keyed by dotted paths: ``{"f1": {"macro": 0.5}}`` -> ``{"f1.macro": 0.5}``."""
    numbers: dict[str, float] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            numbers.update(flatten_numbers(item, f"{name}."))
        elif isinstance(item, int | float) and not isinstance(item, bool):
            numbers[name] = float(item)
    return numbers


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a dataset: one JSON object per line, each with a unique string ``id``; blank lines are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InvalidInputError(f"dataset {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read dataset {path}: {exc}") from None
    cases: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(case, dict) or not isinstance(case.get("id"), str) or not case["id"]:
            raise InvalidInputError(f"{path}:{number}: each line must be an object with a string 'id'")
        if case["id"] in seen:
            raise InvalidInputError(f"{path}:{number}: duplicate id {case['id']!r}")
        seen.add(case["id"])
        cases.append(case)
    if not cases:
        raise InvalidInputError(f"dataset {path} has no cases")
    return cases


def require(case: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``case[key]`` if it has the right type, else an ``InvalidInputError`` naming the case and the key."""
    value = case.get(key)
    if not isinstance(value, kind) or (isinstance(value, str | list | dict) and not value):
        raise InvalidInputError(f"case {case.get('id')!r}: '{key}' is missing or not a non-empty {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__


# -- metrics -------------------------------------------------------------------------------------------------
def hit_at_k(ranks: Sequence[int | None], k: int) -> float:
    """Share of probes whose right memory is among the first ``k`` (ranks are 1-based; ``None`` = not found)."""
    if not ranks:
        return 0.0
    return sum(1 for rank in ranks if rank is not None and rank <= k) / len(ranks)


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float:
    """Mean of 1/rank over probes, 0 for a probe whose memory was not found."""
    if not ranks:
        return 0.0
    return sum(1.0 / rank for rank in ranks if rank is not None) / len(ranks)


def binary_metrics(predicted: Sequence[bool], labels: Sequence[bool]) -> dict[str, float]:
    """Precision, recall and false-positive rate of yes/no predictions (0.0 where undefined), with the counts."""
    if len(predicted) != len(labels):
        raise ValueError("need one prediction per label")
    pairs = list(zip(predicted, labels, strict=True))
    tp = sum(1 for p, y in pairs if p and y)
    fp = sum(1 for p, y in pairs if p and not y)
    fn = sum(1 for p, y in pairs if not p and y)
    tn = len(pairs) - tp - fp - fn
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def share(flags: Sequence[bool]) -> float:
    """The share of true values (0.0 for none)."""
    return sum(1 for flag in flags if flag) / len(flags) if flags else 0.0
