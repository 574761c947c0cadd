"""Build ``tools/models/crisis_neighbours.npz``: the crisis statements a message is compared with, and its threshold.

    .venv/bin/python scripts/build_crisis_neighbours.py [--data ../shared/data] [--out tools/models/...]

The perception model learns crisis from about a thousand hand-written rows and misses paraphrases it never saw
("everyone would be fine without me around" when it learned "everyone would be better off without me").
The neighbour layer (``tools/crisis_neighbours.py``) asks a second, plainer question of the retrieval vector
every turn computes anyway: is this message much closer to known crisis statements than to known ordinary ones?

* Rows: ``scripts/data/crisis_train.jsonl`` and ``crisis_train_next.jsonl`` (hand-written, see SOURCE.md), shuffled
  with a fixed seed and split 80 / 20. The 80 % are the bank: its crisis rows the positives, its ``none`` rows
  (figures of speech, grief, fiction...) negatives. The 20 % are only read to report the dev recall.
* Ordinary negatives: 20,000 GoEmotions train comments (seeded sample; Apache-2.0, so their vectors may ship).
  The ordinary dev set is GoEmotions dev and the turns of LoCoMo conversations 0-3 (CC BY-NC: read to choose the
  threshold, never stored). Nothing of GoEmotions test or LoCoMo 4-9 (the eval suites' held-out data) is read.
* Score: mean cosine of the 3 nearest positives minus that of the 3 nearest negatives. Negatives farther than
  0.4 from every positive are dropped from the bank (they can never be among the 3 nearest of a message near a
  positive; measured: same verdicts, a quarter of the size).
* Threshold: just above the highest score among ordinary dev messages the rules and the perception model do not
  already flag, so the layer adds no flag to ordinary dev chat.

Deterministic for a given embedder and perception model: rerunning writes the same bank and threshold.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rich.progress import Progress

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evals.corpora import locomo_turns  # noqa: E402
from memory.embeddings import OnnxMiniLMEmbedder  # noqa: E402
from tools.crisis import CRISIS_KINDS, combine, detect_crisis  # noqa: E402
from tools.crisis_neighbours import NEIGHBOURS, NEIGHBOURS_PATH, margins  # noqa: E402
from tools.detection import perception_scores  # noqa: E402
from tools.perception import OUTPUTS  # noqa: E402

SEED = 7
BANK_SHARE = 0.8
GOEMOTIONS_SAMPLE = 20_000
DEV_CONVERSATIONS = range(4)
NEGATIVE_REACH = 0.4
BATCH = 128


def goemotions(path: Path) -> list[str]:
    """The comments of a GoEmotions split (its first column)."""
    return [line.split("\t")[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def perceived(
    texts: list[str], embedder: OnnxMiniLMEmbedder, progress: Progress, label: str
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """The texts' vectors, and whether the rules or the perception model already flag each as a crisis."""
    task = progress.add_task(label, total=len(texts))
    vectors, flagged = [], []
    at = [OUTPUTS.index(kind) for kind in CRISIS_KINDS]
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        batch_vectors, scores = perception_scores(batch, embedder)
        vectors.append(batch_vectors)
        for row, text in enumerate(batch):
            model = None if scores is None else dict(zip(CRISIS_KINDS, map(float, scores[row, at]), strict=True))
            flagged.append(combine(detect_crisis(text), model).flagged)
        progress.advance(task, len(batch))
    return np.concatenate(vectors).astype(np.float32), np.array(flagged, dtype=bool)


def main() -> int:
    """Build the banks, choose the threshold, write the file and print what was measured."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the public data")
    parser.add_argument("--out", type=Path, default=NEIGHBOURS_PATH)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/crisis-neighbours"), help="the encoder's cache")
    args = parser.parse_args()

    rng = random.Random(SEED)
    rows = [
        json.loads(line)
        for name in ("crisis_train.jsonl", "crisis_train_next.jsonl")
        for line in (ROOT / "scripts" / "data" / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    rng.shuffle(rows)
    cut = int(len(rows) * BANK_SHARE)
    bank_rows, dev_rows = rows[:cut], rows[cut:]
    comments = goemotions(args.data / "goemotions" / "train.tsv")
    rng.shuffle(comments)
    turns = locomo_turns(DEV_CONVERSATIONS, path=args.data / "locomo" / "locomo10.json")

    positives = [row["text"] for row in bank_rows if row["label"] != "none"]
    positive_kinds = np.array([CRISIS_KINDS.index(row["label"]) for row in bank_rows if row["label"] != "none"])
    negatives = [row["text"] for row in bank_rows if row["label"] == "none"] + comments[:GOEMOTIONS_SAMPLE]
    dev_positives = [row["text"] for row in dev_rows if row["label"] != "none"]
    dev_ordinary = goemotions(args.data / "goemotions" / "dev.tsv") + turns

    embedder = OnnxMiniLMEmbedder(args.cache, batch_size=64)
    with Progress() as progress:
        positive_vectors, _ = perceived(positives, embedder, progress, "bank: crisis rows")
        negative_vectors, _ = perceived(negatives, embedder, progress, "bank: ordinary and look-alike rows")
        dev_vectors, dev_flagged = perceived(dev_positives, embedder, progress, "dev: crisis rows")
        ordinary_vectors, ordinary_flagged = perceived(dev_ordinary, embedder, progress, "dev: ordinary chat")

    reach = (negative_vectors @ positive_vectors.T).max(axis=1)
    # as stored (float16), so the threshold is chosen on the vectors the layer will read
    positive_vectors = positive_vectors.astype(np.float16).astype(np.float32)
    negative_vectors = negative_vectors[reach >= NEGATIVE_REACH].astype(np.float16).astype(np.float32)
    scores, _ = margins(ordinary_vectors, positive_vectors, positive_kinds, negative_vectors)
    threshold = float(np.max(scores[~ordinary_flagged])) + 1e-4
    dev_scores, _ = margins(dev_vectors, positive_vectors, positive_kinds, negative_vectors)
    report = {
        "threshold": round(threshold, 4),
        "bank": {"positives": len(positives), "negatives": int(len(negative_vectors)), "of_negatives": len(negatives)},
        "dev_recall_before": round(float(dev_flagged.mean()), 4),
        "dev_recall_after": round(float((dev_flagged | (dev_scores >= threshold)).mean()), 4),
        "ordinary_dev_flagged_before": int(ordinary_flagged.sum()),
        "ordinary_dev_messages": len(dev_ordinary),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        positives=positive_vectors.astype(np.float16),  # exact: already rounded
        positive_kinds=positive_kinds.astype(np.int8),
        negatives=negative_vectors.astype(np.float16),
        threshold=np.float32(threshold),
        neighbours=np.int8(NEIGHBOURS),
    )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
