"""Every collection the project writes syncs its vector index every ``HNSW_SYNC_THRESHOLD`` operations.

Chroma's default (1,000) makes each small write cost more the more operations wait (bench/README.md, 2026-12-07);
collections made before the threshold existed get it when a store first resolves them.
"""

import numpy as np
from chromadb.api import ClientAPI
from redis.asyncio import Redis

from memory.long_term import HNSW_SYNC_THRESHOLD, OWNER_KEY, LongTermStore, collection_name
from memory.personality_store import PersonalityStore
from memory.records import MemoryRecord

USER = "sync-user"


def _threshold(client: ClientAPI, name: str) -> int:
    return int(client.get_collection(name, embedding_function=None).configuration_json["hnsw"]["sync_threshold"])


async def test_new_collections_sync_every_hundred_operations(chroma_client: ClientAPI, redis: Redis) -> None:
    assert HNSW_SYNC_THRESHOLD < 1000  # below Chroma's default, or this proves nothing
    vector = np.full((1, 384), 0.05, dtype=np.float32)
    LongTermStore(chroma_client).add(USER, [MemoryRecord(id="m1", user_id=USER, text="I keep bees")], vector)
    personality = PersonalityStore(chroma_client, redis)
    personality.write_durable(USER, "default", {"user_id": USER, "persona": "default"})

    assert _threshold(chroma_client, collection_name(USER)) == HNSW_SYNC_THRESHOLD
    assert _threshold(chroma_client, "companion-personality") == HNSW_SYNC_THRESHOLD


def test_a_collection_made_with_chromas_default_gets_the_threshold_and_keeps_its_memories(
    chroma_client: ClientAPI,
) -> None:
    name = collection_name(USER)
    old = chroma_client.create_collection(
        name, metadata={OWNER_KEY: USER}, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    assert old.configuration_json["hnsw"]["sync_threshold"] == 1000
    old.add(ids=["m1"], embeddings=[[0.05] * 384], documents=["I keep bees"], metadatas=[{"user_id": USER}])

    store = LongTermStore(chroma_client)
    assert [record.text for record in store.list_memories(USER)] == ["I keep bees"]
    assert _threshold(chroma_client, name) == HNSW_SYNC_THRESHOLD
