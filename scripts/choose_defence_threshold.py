"""Choose the classifier score above which an injection verdict alone counts as high confidence (proportionate defence).

A consequence (warning, cooldown, block, mood penalty) punishes a user, so it needs high precision. This script
scores a dev set with the shipped perception model's injection output (``tools/models/perception.onnx``,
calibrated so 0.7 is its decision point; trained on the two injection sets' *train* splits, so none of their test
texts were seen in training; GoEmotions dev tuned its decision threshold) and prints, per candidate
threshold, the false positives on ordinary chat and the precision and recall on the injection sets:

* ordinary chat (negatives): GoEmotions' dev split (Reddit comments, ``../shared/data/goemotions/dev.tsv``);
* injection sets (test splits, ``../shared/data/injection``): label 1 positives, label 0 negatives.

The chosen threshold is the lowest one at which at most 0.1 % of the ordinary messages score above it and
precision on all negatives together is at least 0.99 (``--json`` writes the whole curve). Run from the project
root: ``.venv/bin/python scripts/choose_defence_threshold.py [--data ../shared/data] [--json FILE]``. The result
is recorded as ``tools.defence.HIGH_PRECISION_CLASSIFIER_SCORE``; rerun it when the classifier changes.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from memory.embeddings import load_embedder
from tools.detection import INJECTION_OUTPUT, perception_scores

MAX_ORDINARY_FP = 0.001
MIN_PRECISION = 0.99
CANDIDATES = [round(0.70 + 0.01 * step, 2) for step in range(30)]


def main() -> int:
    """Score the dev set and print the curve and the chosen threshold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path(".cache/models"))
    parser.add_argument("--json", type=Path, help="write the curve here")
    args = parser.parse_args()
    with (args.data / "goemotions" / "dev.tsv").open(encoding="utf-8") as handle:
        ordinary = [row[0] for row in csv.reader(handle, delimiter="\t") if row]
    attacks: list[str] = []
    benign: list[str] = []
    for name in ("deepset_prompt_injections_test.jsonl", "jailbreak_classification_test.jsonl"):
        for line in (args.data / "injection" / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            (attacks if row["label"] == 1 else benign).append(row["text"])
    embedder = load_embedder(args.cache)

    def scores(texts: list[str]) -> np.ndarray:
        found = []
        for start in range(0, len(texts), 64):
            _, batch = perception_scores(texts[start : start + 64], embedder)
            if batch is None:
                raise SystemExit("this embedder hands over no layer states: the perception model cannot run")
            found.append(batch[:, INJECTION_OUTPUT])
        return np.concatenate(found)

    ordinary_scores, attack_scores, benign_scores = scores(ordinary), scores(attacks), scores(benign)
    curve = []
    for threshold in CANDIDATES:
        fp_ordinary = int((ordinary_scores >= threshold).sum())
        fp_benign = int((benign_scores >= threshold).sum())
        tp = int((attack_scores >= threshold).sum())
        precision = tp / (tp + fp_ordinary + fp_benign) if tp + fp_ordinary + fp_benign else 1.0
        curve.append(
            {
                "threshold": threshold,
                "ordinary_fp_rate": round(fp_ordinary / len(ordinary), 5),
                "precision": round(precision, 4),
                "recall": round(tp / len(attacks), 4),
            }
        )
    chosen = next(
        (p for p in curve if p["ordinary_fp_rate"] <= MAX_ORDINARY_FP and p["precision"] >= MIN_PRECISION), curve[-1]
    )
    result = {
        "ordinary": len(ordinary),
        "attacks": len(attacks),
        "benign": len(benign),
        "chosen": chosen,
        "curve": curve,
    }
    print(json.dumps(result if args.json is None else {"chosen": chosen}, indent=1))  # noqa: T201
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
