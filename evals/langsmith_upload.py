"""Upload a finished run to LangSmith as an experiment, when ``LANGSMITH_API_KEY`` is set.

The suite's JSONL becomes a LangSmith dataset (named from the suite and the file's sha256, so an edited dataset
is a new one; created once, reused after), and the run becomes an experiment on it: each example's output is the
case result the local run computed, and its per-case ``scores`` become the experiment's feedback. Nothing is
re-run against the services. A failed upload is reported in the result; the local result is written anyway.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)


def langsmith_configured() -> bool:
    """Whether a LangSmith API key is set."""
    return bool(os.environ.get("LANGSMITH_API_KEY") or os.environ.get("LANGCHAIN_API_KEY"))


def dataset_name(result: dict[str, Any]) -> str:
    """The LangSmith dataset for a suite's JSONL: ``companion-<suite>-<sha256[:12]>``."""
    return f"companion-{result['suite']}-{result['dataset']['sha256'][:12]}"


def upload_experiment(result: dict[str, Any], cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Create the dataset if needed and record the run as an experiment; returns names or the error."""
    if result["status"] == "not_run":
        return {"uploaded": False, "reason": "suite not run"}
    if not cases:
        return {"uploaded": False, "reason": "the suite has no JSONL dataset to make a LangSmith dataset from"}
    try:
        from langsmith import Client, evaluate

        client = Client()
        name = dataset_name(result)
        if not client.has_dataset(dataset_name=name):
            dataset = client.create_dataset(name, description=f"companion eval suite {result['suite']!r} (JSONL)")
            client.create_examples(
                dataset_id=dataset.id,
                examples=[{"inputs": case, "metadata": {"case_id": case["id"]}} for case in cases],
            )
        by_case: dict[str, list[dict[str, Any]]] = {}
        for case_result in result["cases"]:
            key = str(case_result.get("case", case_result["id"])).split("/")[0]
            by_case.setdefault(key, []).append(case_result)

        def target(inputs: dict[str, Any]) -> dict[str, Any]:
            return {"results": by_case.get(str(inputs["id"]), [])}

        def scores(outputs: dict[str, Any]) -> list[dict[str, Any]]:
            totals: dict[str, list[float]] = {}
            for case_result in outputs["results"]:
                for key, value in case_result.get("scores", {}).items():
                    totals.setdefault(key, []).append(float(value))
            return [{"key": key, "score": sum(values) / len(values)} for key, values in totals.items()]

        def evaluator(run: Any, example: Any) -> dict[str, Any]:
            return {"results": scores(run.outputs or {"results": []})}

        experiment = evaluate(
            target,
            data=name,
            evaluators=[evaluator],
            experiment_prefix=f"companion-{result['suite']}",
            metadata={"config": result["config"], "versions": result["versions"], "metrics": result["metrics"]},
            client=client,
            max_concurrency=0,
        )
        return {"uploaded": True, "dataset": name, "experiment": experiment.experiment_name}
    except Exception as exc:  # network, auth, quota: the local result stands; say what went wrong in one line
        logger.warning("LangSmith upload failed: %s", exc)
        return {"uploaded": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
