"""Train the local emotion classifier of ``tools/detection.py`` on GoEmotions, over MiniLM sentence embeddings.

    .venv/bin/python scripts/train_emotion.py [--data ../shared/data/goemotions] [--cache /tmp/goemotions-emb.npz]

Steps (all reproducible, seeded):
1. Embed the train, dev and test splits with the project's own embedder (``memory/embeddings.py``), exactly as the
   chat turn does; the vectors are cached in ``--cache`` because this is the slow part.
2. Map GoEmotions' 28 labels to the project's emotion types (``tools.detection.GOEMOTIONS_TO_TYPE``): a comment
   can carry several types.
3. Fit a one-hidden-layer network with one sigmoid output per learnable type (multi-label) on *train* with Adam,
   picking the epoch by macro-F1 on *dev*; tune each type's decision threshold on *dev*.
4. Fit the category prototypes from ``scripts/data/category_examples.jsonl`` and the importance prototypes from
   ``scripts/data/importance_examples.jsonl`` (embedded with the same model).
5. Write ``tools/models/emotion_classifier.npz`` (float32 weights, thresholds, prototypes, metadata).

The *test* split is never looked at here: ``evals/emotion.py`` reports on it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory.embeddings import load_embedder  # noqa: E402
from tools.detection import (  # noqa: E402
    CATEGORIES,
    GOEMOTIONS_LABELS,
    GOEMOTIONS_TO_TYPE,
    LEARNED_TYPES,
    MODEL_PATH,
    WORD_BUCKETS,
    ImportanceLevel,
    word_features,
)

SEED = 20261125


def read_split(path: Path) -> tuple[list[str], list[list[int]]]:
    """Texts and GoEmotions label ids of one split file."""
    texts: list[str] = []
    labels: list[list[int]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            texts.append(row[0])
            labels.append([int(x) for x in row[1].split(",")])
    return texts, labels


def type_targets(labels: list[list[int]]) -> np.ndarray:
    """Multi-hot targets over ``LEARNED_TYPES`` from GoEmotions label ids."""
    index = {name: i for i, name in enumerate(LEARNED_TYPES)}
    targets = np.zeros((len(labels), len(LEARNED_TYPES)), dtype=np.float32)
    for row, ids in enumerate(labels):
        for label_id in ids:
            targets[row, index[GOEMOTIONS_TO_TYPE[GOEMOTIONS_LABELS[label_id]]]] = 1.0
    return targets


def f1_scores(targets: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-column F1 of multi-hot ``predicted`` against ``targets``."""
    tp = (predicted * targets).sum(axis=0)
    fp = (predicted * (1 - targets)).sum(axis=0)
    fn = ((1 - predicted) * targets).sum(axis=0)
    return np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)


def tune_thresholds(targets: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Each column's probability threshold that maximises its F1."""
    grid = np.linspace(0.05, 0.95, 91)
    best = np.full(targets.shape[1], 0.5)
    for column in range(targets.shape[1]):
        scores = [f1_scores(targets[:, [column]], (probabilities[:, [column]] > t).astype(float))[0] for t in grid]
        best[column] = grid[int(np.argmax(scores))]
    return best


def word_sums(words: list[np.ndarray], index: np.ndarray, w_words: np.ndarray) -> np.ndarray:
    """Per row of ``index``: the sum of its word-feature weight rows."""
    out = np.zeros((len(index), w_words.shape[1]), dtype=np.float32)
    for row, i in enumerate(index):
        if words[i].size:
            out[row] = w_words[words[i]].sum(axis=0)
    return out


def forward(params: dict[str, np.ndarray], x: np.ndarray, words: list[np.ndarray]) -> np.ndarray:
    """Output probabilities."""
    hidden = np.maximum(x @ params["w1"] + params["b1"], 0.0)
    logits = hidden @ params["w2"] + params["b2"] + word_sums(words, np.arange(len(x)), params["w_words"])
    return 1.0 / (1.0 + np.exp(-logits))


def train_network(
    x: np.ndarray,
    words: list[np.ndarray],
    y: np.ndarray,
    x_dev: np.ndarray,
    words_dev: list[np.ndarray],
    y_dev: np.ndarray,
    *,
    hidden: int = 256,
    epochs: int = 12,
    on_best: Callable[[dict[str, np.ndarray]], None] | None = None,
) -> dict[str, np.ndarray]:
    """Multi-label MLP (ReLU hidden layer, sigmoid outputs), binary cross-entropy, Adam, dropout, weight decay.

    Returns the weights of the epoch with the best dev macro-F1 (thresholds tuned on dev), with those thresholds.
    """
    rng = np.random.default_rng(SEED)
    dim, outputs = x.shape[1], y.shape[1]
    params = {
        "w1": rng.normal(0, np.sqrt(2.0 / dim), (dim, hidden)),
        "b1": np.zeros(hidden),
        "w2": rng.normal(0, np.sqrt(1.0 / hidden), (hidden, outputs)),
        "b2": np.zeros(outputs),
        "w_words": np.zeros((WORD_BUCKETS, outputs)),
    }
    params = {k: v.astype(np.float32) for k, v in params.items()}
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    # Rare types get a larger positive weight (square root of the imbalance), so the network does not ignore them.
    positive = y.mean(axis=0)
    pos_weight = np.sqrt((1 - positive) / np.maximum(positive, 1e-4)).astype(np.float32)
    lr, beta1, beta2, decay, dropout, batch = 1e-3, 0.9, 0.999, 1e-4, 0.3, 128
    step, best_score, best = 0, -1.0, None
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            index = order[start : start + batch]
            xb, yb = x[index], y[index]
            h = np.maximum(xb @ params["w1"] + params["b1"], 0.0)
            mask = ((rng.random(h.shape) > dropout) / (1 - dropout)).astype(np.float32)
            hd = h * mask
            logits = hd @ params["w2"] + params["b2"] + word_sums(words, index, params["w_words"])
            p = 1.0 / (1.0 + np.exp(-logits))
            # d(weighted BCE)/d(logit) = p*(1-y) - w*y*(1-p)
            dlogit = (p * (1 - yb) - pos_weight * yb * (1 - p)) / len(xb)
            grads = {"w2": hd.T @ dlogit, "b2": dlogit.sum(axis=0)}
            dh = (dlogit @ params["w2"].T) * mask * (h > 0)
            grads["w1"], grads["b1"] = xb.T @ dh, dh.sum(axis=0)
            grads["w_words"] = np.zeros_like(params["w_words"])
            rows = [words[i] for i in index]
            np.add.at(grads["w_words"], np.concatenate(rows), np.repeat(dlogit, [len(r) for r in rows], axis=0))
            step += 1
            for name, grad in grads.items():
                if name.startswith("w"):
                    grad = grad + decay * params[name]
                m, v = moments[name]
                m[:] = beta1 * m + (1 - beta1) * grad
                v[:] = beta2 * v + (1 - beta2) * grad * grad
                m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
                params[name] -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
        p_dev = forward(params, x_dev, words_dev)
        thresholds = tune_thresholds(y_dev, p_dev)
        score = float(f1_scores(y_dev, (p_dev > thresholds).astype(float)).mean())
        print(f"epoch {epoch + 1:2d}: dev macro-F1 {score:.4f}", flush=True)
        if score > best_score:
            best_score, best = score, {k: v.copy() for k, v in params.items()} | {"thresholds": thresholds}
            if on_best is not None:
                on_best(finished(best, best_score))
    assert best is not None
    print(f"best dev macro-F1 {best_score:.4f}")
    return finished(best, best_score)


def finished(best: dict[str, np.ndarray], score: float) -> dict[str, np.ndarray]:
    """The arrays to store for the best epoch."""
    return {k: v.astype(np.float32) for k, v in best.items()} | {
        "learned_types": np.array(LEARNED_TYPES),
        "dev_macro_f1": np.float32(score),
    }


def read_examples(name: str, key: str) -> tuple[list[str], list[str]]:
    """Texts and labels of one example file in ``scripts/data``."""
    rows = [json.loads(line) for line in (ROOT / "scripts" / "data" / name).read_text(encoding="utf-8").splitlines()]
    return [row["text"] for row in rows], [str(row[key]) for row in rows]


def prototypes(embedder: object) -> dict[str, np.ndarray]:
    """Category centroids and importance example vectors, embedded with the project's embedder."""
    texts, labels = read_examples("category_examples.jsonl", "category")
    vectors = embedder.embed(texts)  # type: ignore[attr-defined]
    centroids = np.stack([vectors[[i for i, c in enumerate(labels) if c == name]].mean(axis=0) for name in CATEGORIES])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    texts, levels = read_examples("importance_examples.jsonl", "importance")
    assert set(int(v) for v in levels) <= {int(level) for level in ImportanceLevel}
    return {
        "categories": np.array(CATEGORIES),
        "category_centroids": centroids.astype(np.float32),
        "importance_vectors": embedder.embed(texts).astype(np.float32),  # type: ignore[attr-defined]
        "importance_values": np.array([float(v) for v in levels], dtype=np.float32),
    }


def embed_splits(data_dir: Path, cache: Path) -> dict[str, np.ndarray]:
    """Embeddings of every split, from the cache when it is there."""
    if cache.is_file():
        with np.load(cache) as stored:
            return {name: stored[name] for name in stored.files}
    embedder = load_embedder(ROOT / ".data" / "models")
    result: dict[str, np.ndarray] = {}
    for split in ("train", "dev", "test"):
        texts, _ = read_split(data_dir / f"{split}.tsv")
        started = time.perf_counter()
        chunks = [embedder.embed(texts[i : i + 256]) for i in range(0, len(texts), 256)]
        result[split] = np.concatenate(chunks).astype(np.float32)
        print(f"embedded {split}: {len(texts)} texts in {time.perf_counter() - started:.0f} s", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **result)
    return result


def main() -> int:
    """Train and write the weights."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "goemotions")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/goemotions-embeddings.npz"))
    parser.add_argument("--embed-only", action="store_true", help="only embed the splits into the cache")
    args = parser.parse_args()
    embeddings = embed_splits(args.data, args.cache)
    if args.embed_only:
        return 0
    train_texts, train_labels = read_split(args.data / "train.tsv")
    dev_texts, dev_labels = read_split(args.data / "dev.tsv")
    y_train, y_dev = type_targets(train_labels), type_targets(dev_labels)
    words = [word_features(text) for text in train_texts]
    words_dev = [word_features(text) for text in dev_texts]
    embedder = load_embedder(ROOT / ".data" / "models")
    examples = prototypes(embedder)

    def save(weights: dict[str, np.ndarray]) -> None:  # after every better epoch, so a stopped run leaves its best
        MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(MODEL_PATH, **weights, **examples)
        print(f"wrote {MODEL_PATH.relative_to(ROOT)} ({MODEL_PATH.stat().st_size // 1024} KiB)", flush=True)

    train_network(embeddings["train"], words, y_train, embeddings["dev"], words_dev, y_dev, on_best=save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
