"""Emotion eval: the local detector against a lexicon baseline on GoEmotions' held-out test split.

    .venv/bin/python -m evals.emotion [--data ../shared/data/goemotions] [--limit N] [--json]

The classifier was trained on *train* and tuned on *dev* (``scripts/train_emotion.py``); *test* is never seen.
Gold labels are GoEmotions' labels mapped to the project's types (``tools.detection.GOEMOTIONS_TO_TYPE``); a
comment can carry several. Both systems predict a set of types per message the way the product uses detection:
every non-neutral type whose intensity is above the signal threshold (> 30), or ``neutral`` when there is none.
Reported: per-class precision, recall and F1 for the eight types GoEmotions can label (panic has no gold label,
so it has no F1; its predictions are counted), macro-F1 over those eight and over the seven emotions without
neutral, for both systems, computed in the same run on the same messages. Embedding is the slow part (minutes on
2 cores); ``--limit`` evaluates the first N messages only.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "goemotions"

#: The lexicon baseline: a few dozen common words per type (prefix matches on word starts).
LEXICON: dict[str, tuple[str, ...]] = {
    "happiness": (
        "happy",
        "glad",
        "joy",
        "great",
        "awesome",
        "love it",
        "lol",
        "haha",
        "funny",
        "thank",
        "thanks",
        "good",
        "nice",
        "proud",
        "relieved",
        "hope",
        "yay",
        "congrat",
        "amazing",
        "wonderful",
        "beautiful",
        "agree",
    ),
    "sadness": (
        "sad",
        "sorry",
        "unfortunately",
        "miss ",
        "cry",
        "crying",
        "depress",
        "grief",
        "lost",
        "lonely",
        "hurt",
        "disappoint",
        "regret",
        "heartbroken",
        "rip",
        "tragic",
    ),
    "anxiety": ("nervous", "anxious", "anxiety", "worried", "worry", "stress", "awkward", "embarrass", "uneasy"),
    "excitement": ("excited", "exciting", "can't wait", "wow", "omg", "whoa", "surpris", "want", "wish", "thrill"),
    "anger": (
        "angry",
        "mad",
        "hate",
        "annoy",
        "furious",
        "stupid",
        "idiot",
        "wtf",
        "fuck",
        "disgust",
        "gross",
        "awful",
        "terrible",
        "worst",
        "ridiculous",
        "shut up",
    ),
    "love": ("love", "adore", "cute", "sweet", "care", "hug", "darling", "<3", "kind"),
    "fear": ("afraid", "scared", "fear", "terrified", "terrifying", "scary", "frighten", "panic", "horror"),
}
_LEXICON_PATTERNS = {
    name: re.compile("|".join(r"(?<!\w)" + re.escape(word) for word in words), re.IGNORECASE)
    for name, words in LEXICON.items()
}


def read_split(path: Path) -> tuple[list[str], list[list[int]]]:
    """Texts and GoEmotions label ids of one split."""
    texts: list[str] = []
    labels: list[list[int]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            texts.append(row[0])
            labels.append([int(x) for x in row[1].split(",")])
    return texts, labels


def lexicon_predict(text: str) -> set[str]:
    """The lexicon baseline's types for one message (``neutral`` when no word matches)."""
    found = {name for name, pattern in _LEXICON_PATTERNS.items() if pattern.search(text)}
    return found or {"neutral"}


def predicted_sets(intensities: np.ndarray, types: Sequence[str], threshold: int) -> list[set[str]]:
    """Per message: the non-neutral types above ``threshold``, or ``{"neutral"}``."""
    emotional = [i for i, name in enumerate(types) if name != "neutral"]
    result = []
    for row in intensities:
        found = {types[i] for i in emotional if row[i] > threshold}
        result.append(found or {"neutral"})
    return result


def scores(gold: list[set[str]], predicted: list[set[str]], name: str) -> dict[str, float | int]:
    """Precision, recall, F1 and support of one type."""
    tp = sum(1 for g, p in zip(gold, predicted, strict=True) if name in g and name in p)
    fp = sum(1 for g, p in zip(gold, predicted, strict=True) if name not in g and name in p)
    fn = sum(1 for g, p in zip(gold, predicted, strict=True) if name in g and name not in p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": tp + fn}


def run_emotion_eval(
    data_dir: Path = DEFAULT_DATA,
    *,
    limit: int | None = None,
    models_dir: Path | None = None,
    embeddings: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate the detector and the lexicon baseline on the test split; returns the report as a dict.

    ``embeddings``: an ``.npz`` whose ``test`` array holds the test split's MiniLM vectors (the cache
    ``scripts/train_emotion.py`` writes), to skip the slow embedding step on re-runs.
    """
    from rich.progress import Progress

    from memory.embeddings import load_embedder
    from tools.detection import (
        EMOTION_TYPES,
        EMOTIONAL_SIGNAL_THRESHOLD,
        GOEMOTIONS_LABELS,
        GOEMOTIONS_TO_TYPE,
        LEARNED_TYPES,
        load_detector,
    )

    texts, labels = read_split(data_dir / "test.tsv")
    if limit is not None:
        texts, labels = texts[:limit], labels[:limit]
    gold = [{GOEMOTIONS_TO_TYPE[GOEMOTIONS_LABELS[i]] for i in ids} for ids in labels]
    embedder = load_embedder(models_dir or ROOT / ".data" / "models")
    detector = load_detector()
    batch, chunks = 128, []
    started = time.perf_counter()
    if embeddings is not None:
        with np.load(embeddings) as stored:
            chunks.append(stored["test"][: len(texts)])
    with Progress(disable=not progress or embeddings is not None, transient=True) as bar:
        task = bar.add_task("embedding the test split", total=len(texts))
        for start in range(0, len(texts) if embeddings is None else 0, batch):
            chunks.append(embedder.embed(texts[start : start + batch]))
            bar.advance(task, len(texts[start : start + batch]))
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, detector.dimension), dtype=np.float32)
    embedded = time.perf_counter()
    intensities = detector.intensities(texts, vectors)
    detected = time.perf_counter()
    detector_sets = predicted_sets(intensities, EMOTION_TYPES, EMOTIONAL_SIGNAL_THRESHOLD)
    lexicon_sets = [lexicon_predict(text) for text in texts]
    classes = {
        name: {"detector": scores(gold, detector_sets, name), "lexicon": scores(gold, lexicon_sets, name)}
        for name in LEARNED_TYPES
    }
    emotions_only = [name for name in LEARNED_TYPES if name != "neutral"]

    def macro(system: str, names: Sequence[str]) -> float:
        return round(float(np.mean([classes[n][system]["f1"] for n in names])), 4)

    return {
        "suite": "emotion",
        "data": "GoEmotions test split (held out: never used for training or tuning)",
        "messages": len(texts),
        "threshold": EMOTIONAL_SIGNAL_THRESHOLD,
        "classes": classes,
        "panic_predictions": sum(1 for s in detector_sets if "panic" in s),
        "macro_f1": {
            "detector": macro("detector", LEARNED_TYPES),
            "lexicon": macro("lexicon", LEARNED_TYPES),
            "detector_emotions_only": macro("detector", emotions_only),
            "lexicon_emotions_only": macro("lexicon", emotions_only),
        },
        "seconds": {"embed": round(embedded - started, 2), "detect": round(detected - embedded, 4)},
    }


def print_report(report: dict[str, Any]) -> None:
    """A table of per-class F1 for both systems."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"emotion detection on {report['messages']} held-out GoEmotions messages (F1)")
    for column in ("type", "support", "detector P", "detector R", "detector F1", "lexicon F1"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for name, row in report["classes"].items():
        d, lex = row["detector"], row["lexicon"]
        table.add_row(
            name, str(d["support"]), f"{d['precision']:.3f}", f"{d['recall']:.3f}", f"{d['f1']:.3f}", f"{lex['f1']:.3f}"
        )
    macro = report["macro_f1"]
    table.add_row("macro (8 types)", "", "", "", f"{macro['detector']:.3f}", f"{macro['lexicon']:.3f}")
    table.add_row(
        "macro (7 emotions)",
        "",
        "",
        "",
        f"{macro['detector_emotions_only']:.3f}",
        f"{macro['lexicon_emotions_only']:.3f}",
    )
    Console().print(table)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the eval from the command line."""
    parser = argparse.ArgumentParser(description="Emotion detector vs lexicon baseline on GoEmotions test.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory with test.tsv")
    parser.add_argument("--limit", type=int, help="only the first N test messages")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--output", type=Path, help="also write the JSON report here")
    parser.add_argument("--embeddings", type=Path, help="npz cache of the test split's vectors (array 'test')")
    args = parser.parse_args(argv)
    if not (args.data / "test.tsv").is_file():
        print(f"error: no test.tsv in {args.data} (GoEmotions data)", file=sys.stderr)
        return 2
    report = run_emotion_eval(args.data, limit=args.limit, embeddings=args.embeddings)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
