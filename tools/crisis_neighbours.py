"""Crisis by nearest neighbours: a message much closer to known crisis statements than to ordinary ones.

The perception model learned crisis from about a thousand hand-written rows and misses paraphrases it never saw.
This layer compares the message's retrieval vector (computed by every turn anyway) with a bank of crisis
statements and a bank of ordinary and look-alike messages (``tools/models/crisis_neighbours.npz``, built by
``scripts/build_crisis_neighbours.py`` from the training rows and public chat, never from the eval sets):

    margin = mean cosine of the NEIGHBOURS nearest crisis statements - that of the NEIGHBOURS nearest others

A margin at or above the bank's threshold flags a crisis of the kind whose statements are nearest. The threshold
is set so the layer adds no flag to the ordinary dev chat the build reads; it is one matrix product per turn
(about 4,400 × 384).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from companion.core.errors import ConfigurationError
from tools.crisis import CRISIS_KINDS, CRISIS_THRESHOLD, CrisisKind

__all__ = ["NEIGHBOURS", "NEIGHBOURS_PATH", "CrisisNeighbours", "load_crisis_neighbours", "margins"]

NEIGHBOURS_PATH = Path(__file__).resolve().parent / "models" / "crisis_neighbours.npz"
#: How many nearest statements of each bank are averaged.
NEIGHBOURS = 3


def margins(
    vectors: npt.NDArray[np.float32],
    positives: npt.NDArray[np.float32],
    positive_kinds: npt.NDArray[Any],
    negatives: npt.NDArray[np.float32],
    k: int = NEIGHBOURS,
) -> tuple[npt.NDArray[np.float32], list[CrisisKind]]:
    """Each vector's margin (see the module docstring) and the crisis kind whose statements are nearest."""
    to_positives = vectors @ positives.T
    to_negatives = vectors @ negatives.T
    k_near, k_far = min(k, to_positives.shape[1]), min(k, to_negatives.shape[1])
    near = np.partition(to_positives, -k_near, axis=1)[:, -k_near:].mean(axis=1)
    far = np.partition(to_negatives, -k_far, axis=1)[:, -k_far:].mean(axis=1)
    by_kind = np.full((len(vectors), len(CRISIS_KINDS)), -np.inf, dtype=np.float32)
    for index in range(len(CRISIS_KINDS)):
        of_kind = to_positives[:, positive_kinds == index]
        if of_kind.shape[1]:
            k_kind = min(k, of_kind.shape[1])
            by_kind[:, index] = np.partition(of_kind, -k_kind, axis=1)[:, -k_kind:].mean(axis=1)
    kinds: list[CrisisKind] = [CRISIS_KINDS[int(index)] for index in by_kind.argmax(axis=1)]
    return (near - far).astype(np.float32), kinds


@dataclass(frozen=True, slots=True)
class CrisisNeighbours:
    """The two banks and the threshold of ``crisis_neighbours.npz``."""

    positives: npt.NDArray[np.float32]
    positive_kinds: npt.NDArray[np.int8]
    negatives: npt.NDArray[np.float32]
    threshold: float

    def scores(self, vectors: npt.NDArray[np.float32]) -> list[tuple[CrisisKind, float]]:
        """Per vector, the nearest kind and the margin mapped onto 0-1 with the threshold at ``CRISIS_THRESHOLD``.

        A margin of -1 maps to 0, the threshold to :data:`tools.crisis.CRISIS_THRESHOLD`, 1 to 1 (linear between).
        """
        found, kinds = margins(
            np.asarray(vectors, dtype=np.float32), self.positives, self.positive_kinds, self.negatives
        )
        t, point = self.threshold, CRISIS_THRESHOLD
        low = (found + 1.0) / (t + 1.0) * point
        high = point + (found - t) / (1.0 - t) * (1.0 - point)
        scores = np.clip(np.where(found < t, low, high), 0.0, 1.0)
        return [(kind, float(score)) for kind, score in zip(kinds, scores, strict=True)]


_loaded: CrisisNeighbours | None = None
_lock = threading.Lock()


def load_crisis_neighbours(path: Path = NEIGHBOURS_PATH) -> CrisisNeighbours:
    """The committed banks (loaded once per process for the default path).

    Raises:
        ConfigurationError: the file is missing or unreadable.
    """
    global _loaded
    with _lock:
        if path == NEIGHBOURS_PATH and _loaded is not None:
            return _loaded
        try:
            with np.load(path, allow_pickle=False) as stored:
                neighbours = CrisisNeighbours(
                    positives=np.ascontiguousarray(stored["positives"], dtype=np.float32),
                    positive_kinds=np.asarray(stored["positive_kinds"], dtype=np.int8),
                    negatives=np.ascontiguousarray(stored["negatives"], dtype=np.float32),
                    threshold=float(stored["threshold"]),
                )
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigurationError(f"cannot load the crisis neighbours {path}: {exc}") from None
        if path == NEIGHBOURS_PATH:
            _loaded = neighbours
        return neighbours
