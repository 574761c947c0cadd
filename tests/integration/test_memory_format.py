"""Memories in Chroma: the packed metadata (``memory.records.OWN_KEYS`` + ``DETAILS_KEY``) beside records stored
one key per field before it, in one collection, read, filtered and rewritten alike (real embedded Chroma)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from chromadb.api import ClientAPI

from memory.long_term import LongTermStore, collection_name
from memory.records import DETAILS_KEY, MemoryRecord, content_hash

USER = "format-user"


def _vector(axis: int) -> np.ndarray:
    vector = np.zeros((1, 384), dtype=np.float32)
    vector[0, axis] = 1.0
    return vector


def _store_one_key_per_field(chroma_client: ClientAPI, record: MemoryRecord, vector: np.ndarray) -> None:
    """Write ``record`` as stores did before the packed form: every field a metadata key of its own."""
    metadata = dict(record.to_metadata())
    metadata.update(json.loads(str(metadata.pop(DETAILS_KEY))))
    collection = chroma_client.get_collection(collection_name(USER), embedding_function=None)
    collection.add(ids=[record.id], documents=[record.text], metadatas=[metadata], embeddings=vector)


def test_old_and_packed_records_are_read_filtered_and_rewritten_alike(
    long_term: LongTermStore, chroma_client: ClientAPI
) -> None:
    packed = MemoryRecord(
        id="new", user_id=USER, text="I moved to Lisbon.", importance=800, appraisal='{"rule": "joy"}', created_at=2.0
    )
    old = MemoryRecord(
        id="old", user_id=USER, text="I live in Porto.", importance=300, assoc_pending=True, created_at=1.0
    )
    long_term.add(USER, [packed], _vector(0))
    _store_one_key_per_field(chroma_client, old, _vector(1))

    by_id = {record.id: record for record in long_term.get_many(USER, ["new", "old"])}
    assert by_id["new"].importance == 800 and by_id["old"].importance == 300
    found = {candidate.id: candidate for candidate in long_term.search(USER, _vector(1)[0], 2)}
    assert found["old"].metadata["importance"] == 300 and found["new"].metadata["importance"] == 800
    # the queries that filter on metadata find both forms
    assert [record.id for record in long_term.pending(USER)] == ["old"]
    assert [record.id for record in long_term.appraised_since(USER, since=0.0)] == ["new"]
    assert long_term.ids_by_hash(USER, [content_hash(old.text), content_hash(packed.text)]) == {
        content_hash(old.text): ["old"],
        content_hash(packed.text): ["new"],
    }

    # an old record rewritten in the packed form reads its new values, not the per-field keys Chroma keeps
    long_term.update_metadata(USER, [replace(by_id["old"], importance=600, retention=0.5)])
    assert long_term.mark_superseded(USER, ["old"], by="new") == 1
    assert long_term.clear_pending(USER, ["old"]) == 1
    rewritten = long_term.get(USER, "old")
    assert rewritten is not None
    assert (rewritten.importance, rewritten.retention, rewritten.superseded_by, rewritten.assoc_pending) == (
        600,
        0.5,
        "new",
        False,
    )
    assert long_term.pending(USER) == []
