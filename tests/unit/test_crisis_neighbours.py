"""The nearest-neighbour crisis layer over the committed banks (tools/models/crisis_neighbours.npz)."""

import numpy as np
import pytest

from memory.embeddings import Embedder
from tools.crisis import CRISIS_THRESHOLD
from tools.crisis_neighbours import CrisisNeighbours, load_crisis_neighbours, margins
from tools.detection import perceive


def unit(vector: list[float]) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32)
    return array / np.linalg.norm(array)


def test_the_margin_is_the_mean_of_the_nearest_crisis_statements_minus_that_of_the_nearest_others() -> None:
    positives = np.stack([unit([1, 0, 0]), unit([1, 1, 0]), unit([0, 0, 1])])
    kinds = np.array([0, 0, 1], dtype=np.int8)
    negatives = np.stack([unit([0, 1, 0]), unit([0, 1, 1])])
    found, nearest = margins(np.stack([unit([1, 0, 0])]), positives, kinds, negatives, k=2)
    # nearest positives: 1.0 and 0.7071; nearest negatives: 0.0 and 0.0
    assert found[0] == pytest.approx((1.0 + 2**-0.5) / 2, abs=1e-5)
    assert nearest == ["self_harm"]
    _, nearest = margins(np.stack([unit([0, 0.1, 1])]), positives, kinds, negatives, k=1)
    assert nearest == ["abuse"]


def test_scores_put_the_threshold_on_the_crisis_decision_point() -> None:
    bank = CrisisNeighbours(
        positives=np.stack([unit([1, 0])]),
        positive_kinds=np.array([1], dtype=np.int8),
        negatives=np.stack([unit([0, 1])]),
        threshold=0.2,
    )
    # margin of (cos a, sin a): cos a - sin a
    at_threshold = np.stack([unit([np.cos(a), np.sin(a)]) for a in (0.6435011, 0.0, np.pi / 2)])
    scores = [score for _, score in bank.scores(at_threshold.astype(np.float32))]
    assert scores[0] == pytest.approx(CRISIS_THRESHOLD, abs=0.01)
    assert scores[1] == pytest.approx(1.0) and scores[2] == pytest.approx(0.0)


def test_the_committed_bank_recognises_its_own_statements_and_not_everyday_chat(embedder: Embedder) -> None:
    bank = load_crisis_neighbours()
    assert len(bank.positives) > 500 and bank.negatives.shape[1] == bank.positives.shape[1] == 384
    own = [score for _, score in bank.scores(bank.positives[:50])]
    assert np.mean([score >= CRISIS_THRESHOLD for score in own]) > 0.8
    everyday = ["I bought milk today.", "This traffic is killing me", "My sister got married last weekend!"]
    for seen in perceive(everyday, embedder):
        assert not seen.detection.crisis.flagged, seen.detection.crisis
