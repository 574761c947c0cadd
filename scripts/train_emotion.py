"""Train the local emotion classifier of ``tools/detection.py`` on GoEmotions, over MiniLM sentence embeddings.

    .venv/bin/python scripts/train_emotion.py [--data ../shared/data/goemotions] [--cache /tmp/goemotions-emb.npz]
    .venv/bin/python scripts/train_emotion.py --importance-only   # refit the importance model alone

Steps (all reproducible, seeded):
1. Embed the train, dev and test splits with the project's own embedder (``memory/embeddings.py``), exactly as the
   chat turn does; the vectors are cached in ``--cache`` because this is the slow part.
2. Map GoEmotions' 28 labels to the project's emotion types (``tools.detection.GOEMOTIONS_TO_TYPE``): a comment
   can carry several types.
3. Fit a one-hidden-layer network with one sigmoid output per learnable type (multi-label) on *train* with Adam,
   picking the epoch by macro-F1 on *dev*; tune each type's decision threshold on *dev*.
4. Fit the category prototypes from ``scripts/data/category_examples.jsonl`` and the importance model
   (``tools.detection.ImportanceModel``) on ``scripts/data/importance_examples.jsonl`` (embedded with the same
   model): its regularisation, neighbours, temperature and blend are chosen by 5 × 5-fold cross-validation on
   those examples (stratified by level, seeded; mean error in levels), then it is fitted on all of them.
5. Write ``tools/models/emotion_classifier.npz`` (float32 weights, thresholds, prototypes, metadata; the
   importance examples' vectors in float16).
6. Report, by the same cross-validation, what a strong-emotion rule on top of the model would do (a high message
   lifted to critical, or every level lifted, when a felt emotion reaches a threshold), with the intensities a chat
   turn computes (the perception model's, with the weights just written). Every such rule has made the error
   worse, which is why ``tools.detection`` has none.

``--importance-only`` does steps 4 (importance only) to 6 and keeps every other array of the existing weights
file as it is, so the emotion classifier and the category prototypes do not move.

The *test* split is never looked at here: ``evals/emotion.py`` reports on it. Nothing here reads the eval sets.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.linear_model import LogisticRegression  # noqa: E402

from memory.embeddings import Embedder, load_embedder  # noqa: E402
from tools.detection import (  # noqa: E402
    CATEGORIES,
    EMOTION_TYPES,
    GOEMOTIONS_LABELS,
    GOEMOTIONS_TO_TYPE,
    IMPORTANCE_VALUES,
    LEARNED_TYPES,
    MODEL_PATH,
    WORD_BUCKETS,
    ImportanceModel,
    detect_with_scores,
    load_detector,
    median_level,
    perception_scores,
    snap_importance,
    word_features,
)

SEED = 20261125

#: The importance model's numbers are chosen from these: the logistic regression's inverse regularisation C,
#: (neighbours, temperature) of the example vote, and the logistic regression's share of the blend.
IMPORTANCE_C = (3.0, 5.0, 10.0, 20.0)
IMPORTANCE_VOTES = ((10, 0.05), (20, 0.05), (20, 0.1), (40, 0.05))
IMPORTANCE_BLENDS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
CV_REPEATS, CV_FOLDS = 5, 5


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


def category_prototypes(embedder: Embedder) -> dict[str, np.ndarray]:
    """Category centroids of the category examples, embedded with the project's embedder."""
    texts, labels = read_examples("category_examples.jsonl", "category")
    vectors = embedder.embed(texts)
    centroids = np.stack([vectors[[i for i, c in enumerate(labels) if c == name]].mean(axis=0) for name in CATEGORIES])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    return {"categories": np.array(CATEGORIES), "category_centroids": centroids.astype(np.float32)}


def importance_examples(embedder: Embedder) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, unit vectors and level indices (into ``IMPORTANCE_VALUES``) of the importance examples.

    The vectors are rounded to float16, as they are stored (the weights file stays small enough to commit).
    """
    texts, levels = read_examples("importance_examples.jsonl", "importance")
    assert set(int(v) for v in levels) <= set(IMPORTANCE_VALUES)
    labels = np.array([IMPORTANCE_VALUES.index(int(v)) for v in levels], dtype=np.int64)
    return texts, embedder.embed(texts).astype(np.float16).astype(np.float32), labels


def fit_linear(x: np.ndarray, labels: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression (L2, lbfgs: deterministic): coefficients ``(d, 5)`` and intercepts."""
    model = LogisticRegression(C=c, max_iter=5000).fit(x, labels)
    assert list(model.classes_) == list(range(len(IMPORTANCE_VALUES))), "every level needs examples"
    return model.coef_.T.astype(np.float32), model.intercept_.astype(np.float32)


def importance_model(
    x: np.ndarray, labels: np.ndarray, c: float, neighbours: int, temperature: float, blend: float
) -> ImportanceModel:
    """The importance model fitted on ``x``/``labels`` with the given numbers."""
    coef, intercept = fit_linear(x, labels, c) if blend > 0 else (np.zeros((x.shape[1], 5), np.float32), np.zeros(5))
    return ImportanceModel(
        coef=coef,
        intercept=intercept.astype(np.float32),
        vectors=x,
        labels=labels,
        neighbours=neighbours,
        temperature=temperature,
        blend=blend,
    )


def cv_folds(labels: np.ndarray, repeat: int) -> np.ndarray:
    """Fold of each example, stratified by level (seeded per repeat)."""
    rng = np.random.default_rng(SEED + repeat)
    fold = np.zeros(len(labels), dtype=np.int64)
    for level in range(len(IMPORTANCE_VALUES)):
        rows = rng.permutation(np.flatnonzero(labels == level))
        fold[rows] = np.arange(len(rows)) % CV_FOLDS
    return fold


def out_of_fold(x: np.ndarray, labels: np.ndarray, predict: Callable[..., np.ndarray]) -> np.ndarray:
    """``predict(x_train, labels_train, x_test)`` for every fold of every repeat, stacked repeat after repeat."""
    out = []
    for repeat in range(CV_REPEATS):
        fold = cv_folds(labels, repeat)
        rows: np.ndarray | None = None
        for k in range(CV_FOLDS):
            train, test = fold != k, fold == k
            found = predict(x[train], labels[train], x[test])
            rows = np.zeros((len(x), *found.shape[1:])) if rows is None else rows
            rows[test] = found
        assert rows is not None
        out.append(rows)
    return np.concatenate(out)


def level_metrics(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """How predicted levels (``CV_REPEATS`` stacked copies) compare with the examples' levels.

    Mean error in levels, exact and within-one-level shares, the share of mundane rows (100/300) kept at most 300
    and of life events (700/900) at least 700.
    """
    wanted = np.asarray(IMPORTANCE_VALUES)[np.tile(labels, len(predicted) // len(labels))]
    error = np.abs(predicted - wanted) / 200
    return {
        "mae": float(error.mean()),
        "exact": float((error == 0).mean()),
        "within_one": float((error <= 1).mean()),
        "mundane_le_300": float((predicted[wanted <= 300] <= 300).mean()),
        "events_ge_700": float((predicted[wanted >= 700] >= 700).mean()),
    }


def previous_scorer(x: np.ndarray, labels: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The scorer this model replaced: similarity-weighted mean level of the 5 nearest examples, snapped."""
    similarity = z @ x.T
    nearest = np.argpartition(-similarity, 4, axis=1)[:, :5]
    weights = np.maximum(np.take_along_axis(similarity, nearest, axis=1), 1e-3)
    mean = (weights * np.asarray(IMPORTANCE_VALUES)[labels[nearest]]).sum(axis=1) / weights.sum(axis=1)
    return np.array([snap_importance(v) for v in mean])


def fit_importance(x: np.ndarray, labels: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The importance arrays, with every number chosen by cross-validation, and the chosen model's distributions.

    The distributions are out-of-fold, ``(CV_REPEATS * n, 5)``, for the strong-emotion report.
    """
    linear = {
        c: out_of_fold(x, labels, lambda a, b, z, c=c: importance_model(a, b, c, 1, 1.0, 1.0).distribution(z))
        for c in IMPORTANCE_C
    }
    votes = {
        (k, t): out_of_fold(x, labels, lambda a, b, z, k=k, t=t: importance_model(a, b, 0, k, t, 0.0).distribution(z))
        for k, t in IMPORTANCE_VOTES
    }
    results = []
    for c, blend, (k, t) in itertools.product(IMPORTANCE_C, IMPORTANCE_BLENDS, IMPORTANCE_VOTES):
        if blend == 1.0 and (k, t) != IMPORTANCE_VOTES[0]:
            continue  # the vote plays no part
        found = level_metrics(median_level(blend * linear[c] + (1 - blend) * votes[(k, t)]), labels)
        results.append((found["mae"], -found["exact"], c, blend, k, t, found))
    results.sort(key=lambda row: row[:2])
    _, _, c, blend, k, t, best = results[0]
    print(f"importance: {len(labels)} examples, {CV_REPEATS} x {CV_FOLDS}-fold cross-validation (median level)")
    for name, found in (
        ("previous (5-NN mean, no emotion rule)", level_metrics(out_of_fold(x, labels, previous_scorer), labels)),
        ("logistic regression alone", min((r[6] for r in results if r[3] == 1.0), key=lambda m: m["mae"])),
        (
            "example vote alone",
            min((level_metrics(median_level(v), labels) for v in votes.values()), key=lambda m: m["mae"]),
        ),
        (f"chosen: C={c:g} blend={blend:g} k={k} T={t:g}", best),
    ):
        print(f"  {name:42s} " + " ".join(f"{key} {value:.3f}" for key, value in found.items()))
    model = importance_model(x, labels, c, k, t, blend)
    arrays = {
        "importance_vectors": x.astype(np.float16),
        "importance_values": np.asarray(IMPORTANCE_VALUES, dtype=np.float32)[labels],
        "importance_coef": model.coef,
        "importance_intercept": model.intercept,
        "importance_neighbours": np.int64(k),
        "importance_temperature": np.float32(t),
        "importance_blend": np.float32(blend),
    }
    return arrays, blend * linear[c] + (1 - blend) * votes[(k, t)]


def report_strong_emotion(texts: list[str], labels: np.ndarray, oof: np.ndarray, embedder: Embedder) -> None:
    """Cross-validated effect of strong-emotion rules on top of the model, with a chat turn's intensities."""
    vectors, scores = perception_scores(texts, embedder)
    detections = detect_with_scores(texts, vectors, scores, detector=load_detector(MODEL_PATH))
    intensities = np.array([[d.emotions[name] for name in EMOTION_TYPES] for d in detections])
    felt = np.tile(np.delete(intensities, EMOTION_TYPES.index("neutral"), axis=1).max(axis=1), CV_REPEATS)
    base = median_level(oof)
    print("strong-emotion rules on top of the model (same folds; the detector uses none):")
    rows = [("no rule", base)]
    rows += [(f"700 -> 900 at >= {t}", np.where((felt >= t) & (base == 700), 900, base)) for t in (70, 85)]
    rows += [(f"every level +1 at >= {t}", np.minimum(base + 200 * (felt >= t), 900)) for t in (70, 85)]
    for name, levels in rows:
        print(f"  {name:42s} " + " ".join(f"{k} {v:.3f}" for k, v in level_metrics(levels, labels).items()))


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
    parser.add_argument(
        "--importance-only",
        action="store_true",
        help="refit the importance model alone; every other array of the weights file stays as it is",
    )
    args = parser.parse_args()
    embedder = load_embedder(ROOT / ".data" / "models")
    texts, x, labels = importance_examples(embedder)
    importance, oof = fit_importance(x, labels)
    if args.importance_only:
        with np.load(MODEL_PATH, allow_pickle=False) as stored:
            kept = {name: stored[name] for name in stored.files if not name.startswith("importance_")}
        np.savez_compressed(MODEL_PATH, **kept, **importance)
        print(f"wrote {MODEL_PATH.relative_to(ROOT)} ({MODEL_PATH.stat().st_size // 1024} KiB)", flush=True)
        report_strong_emotion(texts, labels, oof, embedder)
        return 0
    embeddings = embed_splits(args.data, args.cache)
    if args.embed_only:
        return 0
    train_texts, train_labels = read_split(args.data / "train.tsv")
    dev_texts, dev_labels = read_split(args.data / "dev.tsv")
    y_train, y_dev = type_targets(train_labels), type_targets(dev_labels)
    words = [word_features(text) for text in train_texts]
    words_dev = [word_features(text) for text in dev_texts]
    examples = category_prototypes(embedder) | importance

    def save(weights: dict[str, np.ndarray]) -> None:  # after every better epoch, so a stopped run leaves its best
        MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(MODEL_PATH, **weights, **examples)
        print(f"wrote {MODEL_PATH.relative_to(ROOT)} ({MODEL_PATH.stat().st_size // 1024} KiB)", flush=True)

    train_network(embeddings["train"], words, y_train, embeddings["dev"], words_dev, y_dev, on_best=save)
    report_strong_emotion(texts, labels, oof, embedder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
