"""Injection detector evaluation on the held-out test splits: rules only vs rules + classifier, in one run.

    .venv/bin/python -m evals.injection [--data ../shared/data/injection] [--json]

Reports precision, recall and false-positive rate per split and overall. The data is the public labelled sets
described in ``../shared/data/injection/SOURCE.md`` (only their *test* splits are used here; the classifier was
fitted on the *train* splits).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tools.injection import INJECTION_THRESHOLD, detect_injection, load_classifier

TRAIN_FILES = ("deepset_prompt_injections_train.jsonl", "jailbreak_classification_train.jsonl")
TEST_FILES = ("deepset_prompt_injections_test.jsonl", "jailbreak_classification_test.jsonl")
DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "injection"


def load_split(path: Path) -> tuple[list[str], list[int]]:
    """Texts and labels (1 = injection) of one JSONL split."""
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            row = json.loads(line)
            texts.append(str(row["text"]))
            labels.append(int(row["label"]))
    return texts, labels


def embed_texts(texts: Sequence[str], *, progress: bool = False, batch: int = 32) -> npt.NDArray[np.float32]:
    """MiniLM embeddings, as the conversation turn computes them."""
    from memory.embeddings import load_embedder

    cache = Path(os.environ.get("COMPANION_DATA_DIR", tempfile.gettempdir() + "/companion-evals")) / "models"
    embedder = load_embedder(cache)
    chunks = []
    if progress:
        from rich.progress import track

        batches = track(range(0, len(texts), batch), description="embedding")
    else:
        batches = range(0, len(texts), batch)
    for start in batches:
        chunks.append(embedder.embed(list(texts[start : start + batch])))
    return np.concatenate(chunks) if chunks else np.zeros((0, 384), dtype=np.float32)


def _metrics(predicted: Sequence[bool], labels: Sequence[int]) -> dict[str, float | int]:
    tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and y)
    fp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and not y)
    fn = sum(1 for p, y in zip(predicted, labels, strict=True) if not p and y)
    tn = sum(1 for p, y in zip(predicted, labels, strict=True) if not p and not y)
    return {
        "n": len(labels),
        "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
        "false_positive_rate": round(fp / (fp + tn), 4) if fp + tn else 0.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def run_injection_eval(
    data_dir: Path = DEFAULT_DATA,
    *,
    files: Sequence[str] = TEST_FILES,
    embeddings: dict[str, npt.NDArray[np.float32]] | None = None,
    threshold: float = INJECTION_THRESHOLD,
) -> dict[str, Any]:
    """Precision, recall and FPR of rules-only and rules + classifier on each held-out split and overall."""
    classifier = load_classifier()
    report: dict[str, Any] = {"threshold": threshold, "splits": {}}
    every: dict[str, list[bool]] = {"rules_only": [], "rules_and_classifier": []}
    all_labels: list[int] = []
    for name in files:
        texts, labels = load_split(data_dir / name)
        vectors = embeddings[name] if embeddings and name in embeddings else embed_texts(texts)
        rules = [detect_injection(t, None, None, threshold=threshold).flagged for t in texts]
        combined = [
            detect_injection(t, v, classifier, threshold=threshold).flagged for t, v in zip(texts, vectors, strict=True)
        ]
        report["splits"][name] = {
            "rules_only": _metrics(rules, labels),
            "rules_and_classifier": _metrics(combined, labels),
        }
        every["rules_only"] += rules
        every["rules_and_classifier"] += combined
        all_labels += labels
    report["overall"] = {mode: _metrics(flags, all_labels) for mode, flags in every.items()}
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Print the report."""
    parser = argparse.ArgumentParser(description="injection detector: rules only vs rules + classifier")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = run_injection_eval(args.data)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"injection detection on held-out splits (threshold {report['threshold']})")
    for column in ("split", "detector", "n", "precision", "recall", "FPR"):
        table.add_column(column)
    rows = [*report["splits"].items(), ("overall", report["overall"])]
    for split, modes in rows:
        for mode, m in modes.items():
            table.add_row(
                split,
                mode,
                str(m["n"]),
                f"{m['precision']:.3f}",
                f"{m['recall']:.3f}",
                f"{m['false_positive_rate']:.3f}",
            )
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
