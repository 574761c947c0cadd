"""Fit the injection classifier (logistic regression on MiniLM embeddings) and write tools/injection_classifier.json.

    .venv/bin/python scripts/train_injection_classifier.py [--data ../shared/data/injection]

Trains on the *train* splits of both public labelled sets (deepset/prompt-injections, jackhhao
jailbreak-classification; see their SOURCE.md); the *test* splits stay held out for ``evals/injection.py``.
Needs the dev dependencies (scikit-learn); the app itself only reads the JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evals.injection import TRAIN_FILES, embed_texts, load_split  # noqa: E402
from tools.injection import CLASSIFIER_PATH  # noqa: E402

console = Console(stderr=True)


def main() -> int:
    """Embed the train splits, fit, cross-validate, write the weights."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "injection")
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--out", type=Path, default=CLASSIFIER_PATH)
    args = parser.parse_args()

    texts, labels = [], []
    digests = {}
    for name in TRAIN_FILES:
        path = args.data / name
        split_texts, split_labels = load_split(path)
        texts += split_texts
        labels += split_labels
        digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    console.print(f"embedding {len(texts)} training texts ...")
    started = time.perf_counter()
    features = embed_texts(texts, progress=True)
    console.print(f"embedded in {time.perf_counter() - started:.1f} s")
    y = np.asarray(labels)
    model = LogisticRegression(C=args.c, class_weight="balanced", max_iter=5000)
    folds = cross_val_score(model, features, y, cv=5, scoring="f1")
    model.fit(features, y)
    console.print(f"5-fold F1 on train: {folds.mean():.3f} ± {folds.std():.3f}")
    payload = {
        "model": "logistic regression on all-MiniLM-L6-v2 sentence embeddings (normalised, 384-d)",
        "trained_on": {"files": digests, "rows": len(texts), "positives": int(y.sum()), "C": args.c},
        "cv_f1": round(float(folds.mean()), 4),
        "bias": float(model.intercept_[0]),
        "weights": [round(float(w), 6) for w in model.coef_[0]],
    }
    args.out.write_text(json.dumps(payload) + "\n", encoding="utf-8")
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
