"""Fit the key-line model ``tools/models/key_lines.json``: which lines of a session carry its facts.

    .venv/bin/python scripts/train_key_lines.py [--cache DIR]

LoCoMo (``../shared/data/locomo``) gives each session's observations per speaker with the turns they came from.
Every (session, speaker) of conversations 0-3 is a training unit: that speaker's lines are labelled by whether an
observation came from them, and described by ``tools.key_lines.FEATURES`` (importance and intensity from the
product's own detector, as ingestion reads them). A logistic regression (scikit-learn, dev group; standardised
features, C = 1) is fitted on them, and the scaling folded into the weights the app reads. Conversations 4-9 are
never fitted on: their scores are printed beside dev's, and ``companion eval summaries`` reports them with the
baselines. The run is deterministic: the same data gives the same weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evals.corpora import LOCOMO, LOCOMO_EVAL_CONVERSATIONS, sha256  # noqa: E402
from evals.summaries import locomo_units, perceive_units, score_units, unit_lines  # noqa: E402
from memory.embeddings import load_embedder  # noqa: E402
from tools.key_lines import FEATURES, KEY_LINES_PATH, line_features  # noqa: E402

FIT_CONVERSATIONS = range(0, 4)


def main() -> int:
    """Perceive LoCoMo's turns, fit on conversations 0-3, write the card, print dev and held-out scores."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/key-lines-cache"), help="embeddings cache")
    parser.add_argument("--out", type=Path, default=KEY_LINES_PATH)
    args = parser.parse_args()
    from sklearn import __version__ as sklearn_version
    from sklearn.linear_model import LogisticRegression

    fit_units = list(locomo_units(FIT_CONVERSATIONS))
    held_out = list(locomo_units(LOCOMO_EVAL_CONVERSATIONS))
    embedder = load_embedder(args.cache / "models")
    print(f"perceiving the turns of {len(fit_units) + len(held_out)} units ...", flush=True)  # noqa: T201
    perceived = perceive_units([*fit_units, *held_out], embedder, cache_dir=args.cache)

    rows, labels = [], []
    for unit in fit_units:
        lines = unit_lines(unit, perceived)
        positions, features = line_features(lines)
        rows.append(features)
        labels += [unit.turns[index]["dia_id"] in unit.evidence for index in positions]
    x, y = np.concatenate(rows), np.asarray(labels)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    weights = model.coef_[0] / scale
    bias = float(model.intercept_[0] - (model.coef_[0] * mean / scale).sum())
    print(f"fitted on {len(y)} lines ({y.mean():.3f} carry a fact)", flush=True)  # noqa: T201

    card: dict[str, object] = {
        "model": "key_lines",
        "features": list(FEATURES),
        "weights": [round(float(w), 6) for w in weights],
        "bias": round(bias, 6),
        "fitted_on": {
            "data": "LoCoMo conversations 0-3: each speaker's lines per session, labelled by observation evidence",
            "locomo_sha256": sha256(LOCOMO),
            "units": len(fit_units),
            "lines": len(y),
            "positive_share": round(float(y.mean()), 4),
            "estimator": f"scikit-learn {sklearn_version} LogisticRegression(C=1.0) on standardised features",
        },
    }
    args.out.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    from tools import key_lines

    key_lines._weights.cache_clear()  # score with the weights just written
    dev, test = score_units(fit_units, perceived), score_units(held_out, perceived)
    card["dev_metrics"], card["held_out_metrics"] = dev, test
    args.out.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"dev (0-3)": dev, "held out (4-9)": test}, indent=2))  # noqa: T201
    print(f"wrote {args.out}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
