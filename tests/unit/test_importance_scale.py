"""Importance is on the seed's 100-900 scale on records; retrieval weighs it as importance / 1000."""

import numpy as np
import pytest
from chromadb.api import ClientAPI

from memory.long_term import LongTermStore
from memory.records import DEFAULT_IMPORTANCE, MemoryRecord, importance_from_metadata


def test_a_new_record_is_medium_importance() -> None:
    record = MemoryRecord(id="m", user_id="u", text="t")
    assert record.importance == DEFAULT_IMPORTANCE == 500
    assert MemoryRecord.from_chroma("m", "t", record.to_metadata()).importance == 500


@pytest.mark.parametrize(("stored", "read"), [(700, 700), (0.8, 800), (0.05, 100), (1200, 900), ("junk", 500)])
def test_stored_importance_reads_back_on_the_integer_scale(stored: object, read: int) -> None:
    assert importance_from_metadata(stored) == read


def test_retrieval_candidates_carry_importance_over_1000(long_term: LongTermStore, chroma_client: ClientAPI) -> None:
    vector = np.zeros((1, 384), dtype=np.float32)
    vector[0, 0] = 1.0
    long_term.add("u", [MemoryRecord(id="m", user_id="u", text="t", importance=900)], vector)
    (candidate,) = long_term.search("u", vector[0], 5)
    assert candidate.importance == pytest.approx(0.9)
    assert candidate.metadata["importance"] == 900
