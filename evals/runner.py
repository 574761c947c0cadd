"""Run a suite end to end: dataset -> runner (with a progress bar) -> JSON result + PNG plot + table.

The JSON result holds everything needed to compare two runs: the suite, status and metrics, every case's
result, the dataset's path and sha256, the configuration (retrieval parameters, embedder, chat model) and the
package versions. With ``LANGSMITH_API_KEY`` set the run is also uploaded as a LangSmith experiment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from companion.core.errors import InvalidInputError
from companion.core.versions import package_versions
from evals.core import EvalEnv, SuiteOutcome, load_jsonl, outcome_from
from evals.plot import write_plot
from evals.registry import SUITES, Suite
from nodes.conversation import model_name
from tools import retrieval

VERSIONED_PACKAGES = (
    "companion",
    "langgraph",
    "langchain-core",
    "chromadb",
    "redis",
    "onnxruntime",
    "numpy",
    "langsmith",
)
STATUS_STYLE = {"measured": "cyan", "passed": "green", "failed": "red", "not_run": "yellow"}


def get_suite(name: str) -> Suite:
    """The registered suite called ``name``, or an ``InvalidInputError`` listing the known ones."""
    try:
        return SUITES[name]
    except KeyError:
        raise InvalidInputError(f"unknown eval suite {name!r}; known: {', '.join(sorted(SUITES))}") from None


def new_run_id() -> str:
    """A short id for one run; every user id the run creates starts with ``eval-<run id>``."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def versions() -> dict[str, str]:
    """Python and the versions of the packages that decide the results."""
    return package_versions(*VERSIONED_PACKAGES)


def configuration(env: EvalEnv) -> dict[str, Any]:
    """The parameters a run's numbers depend on."""
    chat_model = env.chat_model
    return {
        "retrieval_k": env.retrieval_k,
        "mmr_lambda": retrieval.MMR_LAMBDA,
        "similarity_threshold": retrieval.SIMILARITY_THRESHOLD,
        "importance_weight": retrieval.IMPORTANCE_WEIGHT,
        "recency_weight": retrieval.RECENCY_WEIGHT,
        "lexical_weight": retrieval.LEXICAL_WEIGHT,
        "candidates_per_selected": retrieval.CANDIDATES_PER_SELECTED,
        "max_candidates": retrieval.MAX_CANDIDATES,
        "embedder": getattr(env.embedder, "model_name", type(env.embedder).__name__),
        "chat_model": None if chat_model is None else model_name(chat_model),
    }


async def run_suite(
    suite: Suite,
    env: EvalEnv,
    *,
    out_dir: Path,
    dataset: Path | None = None,
    console: Console | None = None,
    upload: bool | None = None,
) -> tuple[dict[str, Any], Path]:
    """Run ``suite`` on ``dataset`` (default: its own), write the JSON result and the PNG; return both."""
    path = dataset or suite.dataset_path
    cases = [] if path is None else load_jsonl(path)
    digest = None if path is None else hashlib.sha256(path.read_bytes()).hexdigest()
    started_at = dt.datetime.now(dt.UTC)
    began = time.perf_counter()
    with Progress(
        TextColumn(f"eval {suite.name}"),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=len(cases) or None)

        def advance(n: int = 1, *, total: int | None = None, description: str | None = None) -> None:
            if total is not None:
                progress.reset(task, total=total)
            if description is not None:
                progress.update(task, description=description)
            progress.advance(task, n)

        returned = suite.runner()(cases, env, advance)
        if inspect.isawaitable(returned):
            returned = await returned
    outcome = outcome_from(returned)
    result: dict[str, Any] = {
        "suite": suite.name,
        "status": outcome.status,
        "message": outcome.message,
        "metrics": outcome.metrics,
        "systems": list(outcome.systems),
        "details": outcome.details,
        "run_id": env.run_id,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - began, 3),
        "dataset": {"path": None if path is None else str(path), "sha256": digest, "cases": len(cases)},
        "config": configuration(env),
        "versions": versions(),
        "cases": outcome.cases,
    }
    if upload is None:
        from evals.langsmith_upload import langsmith_configured

        upload = langsmith_configured()
    if upload:
        from evals.langsmith_upload import upload_experiment

        result["langsmith"] = upload_experiment(result, cases)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{suite.name}-{started_at.strftime('%Y%m%dT%H%M%S')}-{env.run_id[-6:]}.json"
    result["plot"] = write_plot(result, json_path.with_suffix(".png"))
    json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result, json_path


def print_result(result: dict[str, Any], json_path: Path, console: Console) -> None:
    """The run as a table, with its status, message and where the files went."""
    status = result["status"]
    title = f"eval {result['suite']}: [{STATUS_STYLE.get(status, 'white')}]{status.upper().replace('_', ' ')}[/]"
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in result["metrics"].items():
        table.add_row(name, _fmt(value))
    console.print(table)
    if result.get("message"):
        console.print(f"[{STATUS_STYLE.get(status, 'white')}]{escape(result['message'])}[/]", soft_wrap=True)
    dataset = result["dataset"]
    if dataset["path"] is None:
        console.print(f"dataset: the suite's own; {result['duration_s']:.1f} s")
    else:
        console.print(
            f"dataset {escape(dataset['path'])} (sha256 {dataset['sha256'][:12]}, {dataset['cases']} cases); "
            f"{result['duration_s']:.1f} s",
            soft_wrap=True,
        )
    console.print(f"result: {escape(str(json_path))}", soft_wrap=True)
    if result.get("plot"):
        console.print(f"plot:   {escape(result['plot'])}", soft_wrap=True)
    langsmith = result.get("langsmith")
    if langsmith:
        console.print(f"langsmith: {escape(json.dumps(langsmith))}", soft_wrap=True)


def load_result(path: Path) -> dict[str, Any]:
    """A result JSON written by ``run_suite``; one-line errors for anything else."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"result file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read {path} as JSON: {exc}") from None
    if not isinstance(data, dict) or not {"suite", "metrics", "dataset"} <= set(data):
        raise InvalidInputError(f"{path} is not an eval result (no suite/metrics/dataset)")
    return data


def compare_results(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What differs between two results of the same suite: metrics (with deltas), dataset, config, versions."""
    if a["suite"] != b["suite"]:
        raise InvalidInputError(f"cannot compare a {a['suite']!r} result with a {b['suite']!r} result")
    metrics = []
    for name in list(a["metrics"]) + [n for n in b["metrics"] if n not in a["metrics"]]:
        va, vb = a["metrics"].get(name), b["metrics"].get(name)
        delta = None if va is None or vb is None else round(vb - va, 6)
        metrics.append({"metric": name, "a": va, "b": vb, "delta": delta})

    def changed(key: str) -> dict[str, list[Any]]:
        left, right = a.get(key, {}), b.get(key, {})
        return {k: [left.get(k), right.get(k)] for k in sorted(set(left) | set(right)) if left.get(k) != right.get(k)}

    return {
        "suite": a["suite"],
        "status": [a.get("status"), b.get("status")],
        "metrics": metrics,
        "same_dataset": a["dataset"].get("sha256") == b["dataset"].get("sha256"),
        "config": changed("config"),
        "versions": changed("versions"),
    }


def print_comparison(diff: dict[str, Any], names: tuple[str, str], console: Console) -> None:
    """The comparison as tables."""
    table = Table(title=f"eval {diff['suite']}: A = {Path(names[0]).name}, B = {Path(names[1]).name}")
    for column in ("metric", "A", "B", "B - A"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    table.add_row("status", *diff["status"], "")
    for row in diff["metrics"]:
        delta = row["delta"]
        style = "" if not delta else "green" if delta > 0 else "red"
        shown = "" if delta is None else f"[{style}]{delta:+.4g}[/]" if style else "0"
        table.add_row(row["metric"], _fmt(row["a"]), _fmt(row["b"]), shown)
    console.print(table)
    console.print(
        "dataset: same (sha256 matches)" if diff["same_dataset"] else "[yellow]dataset: DIFFERENT (sha256 differs)[/]"
    )
    for key in ("config", "versions"):
        if diff[key]:
            for name, (left, right) in diff[key].items():
                console.print(f"{key}: {escape(name)}: {escape(str(left))} -> {escape(str(right))}", soft_wrap=True)
        else:
            console.print(f"{key}: same")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.4f}"
    return str(value)


__all__ = [
    "SuiteOutcome",
    "compare_results",
    "get_suite",
    "load_result",
    "print_comparison",
    "print_result",
    "run_suite",
]
