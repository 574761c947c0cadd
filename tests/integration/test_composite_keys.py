"""Ids may contain ``:``: no two (user, conversation) pairs share a key in any store, and old keys migrate safely.

User ``pb`` in conversation ``x:c1`` and user ``pb:x`` in conversation ``c1`` once shared the checkpoint thread
``pb:x:c1``: pb's export showed pb:x's secret, and erasing pb deleted pb:x's thread (issue 16, item 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import aiosqlite
import redis as redis_sync
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from redis.asyncio import Redis

from companion.core.settings import load_settings
from companion.runtime.users import checkpoint_threads
from companion.services import open_checkpointer
from graphs.conversation import build_graph, run_turn
from memory.checkpoints import LatestCheckpointSaver
from memory.embeddings import Embedder
from memory.keys import (
    CHECKPOINT_USER_KEY,
    KEYS_VERSION_KEY,
    encode_part,
    hash_tag,
    join_key,
    migrate_redis_keys,
    split_key,
    split_thread_id,
    thread_id,
)
from memory.lexical import LexicalIndex
from memory.long_term import LongTermStore
from memory.personality_store import state_key
from memory.short_term import ShortTermStore, last_active_key, turns_key
from tests.integration.api_helpers import api_client, make_key
from tests.integration.test_checkpointer import rows, tally_graph

PAIRS = [("pb", "x:c1"), ("pb:x", "c1"), ("pb:x:c1", "default"), ("a%3Ab", "c"), ("a:b", "c")]


def test_every_composite_key_tells_the_pairs_apart() -> None:
    for builder in (thread_id, turns_key, join_key):
        assert len({builder(user, conversation) for user, conversation in PAIRS}) == len(PAIRS)
    assert thread_id("pb", "x:c1") == "pb:x%3Ac1" and thread_id("pb:x", "c1") == "pb%3Ax:c1"
    assert turns_key("acme:alice", "default") == "companion:u:{acme%3Aalice}:c:{default}:turns"
    assert thread_id("alice", "default") == "alice:default"  # ids without ':' read as before
    for user, conversation in PAIRS:
        assert split_thread_id(thread_id(user, conversation)) == (user, conversation)
        assert split_key(join_key(user, conversation)) == [user, conversation]
    assert {encode_part(x) for x in ("a:b", "a%3Ab", "a}b", "a{b")} == {"a%3Ab", "a%253Ab", "a%7Db", "a%7Bb"}
    assert last_active_key("pb") != last_active_key("pb:x")
    assert state_key("pb", "x:y") != state_key("pb:x", "y")


def test_lexical_index_files_differ_for_users_whose_ids_join_alike(tmp_path: Path, long_term: LongTermStore) -> None:
    index = LexicalIndex(tmp_path / "lexical")
    store = LongTermStore(long_term.client, lexical=index)
    assert index.path(store._owner("pb:x")) != index.path(store._owner("pb"))
    assert store._owner("pb:x") == "companion:pb%3Ax"
    index.close()


def _chat(client, auth, user_id: str, conversation_id: str, message: str) -> None:  # type: ignore[no-untyped-def]
    body = {"user_id": user_id, "conversation_id": conversation_id, "message": message}
    response = client.post("/v1/chat", json=body, headers=auth)
    assert response.status_code == 200, response.text


def test_a_user_whose_id_prefixes_another_never_exports_or_erases_its_thread(tmp_path: Path, redis_url: str) -> None:
    pb, pbx = make_key(redis_url, user_id="pb"), make_key(redis_url, user_id="pb:x")
    with api_client(tmp_path, redis_url) as client:
        _chat(client, pb, "pb", "x:c1", "My password is tangerine-41.")
        _chat(client, pbx, "pb:x", "c1", "My password is walrus-77.")

        export = client.get("/v1/users/pb/export", headers=pb)
        assert export.status_code == 200, export.text
        assert "walrus-77" not in export.text
        assert {t["thread_id"] for t in export.json()["checkpoint_threads"]} == {"pb:x%3Ac1"}
        assert "tangerine-41" in json.dumps(export.json()["checkpoint_threads"])

        erased = client.delete("/v1/users/pb", headers=pb)
        assert erased.status_code == 200 and erased.json()["checkpoint_threads"] == 1

        kept = client.get("/v1/users/pb:x/export", headers=pbx).json()
        assert [t["thread_id"] for t in kept["checkpoint_threads"]] == ["pb%3Ax:c1"]
        assert "walrus-77" in json.dumps(kept["checkpoint_threads"])
        assert "tangerine-41" not in json.dumps(kept)
        assert set(kept["short_term"]["conversations"]) == {"c1"}


async def test_turns_of_such_users_go_to_separate_threads_and_redis_keys(
    tmp_path: Path, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    async with open_checkpointer(load_settings(data_dir=tmp_path)) as checkpointer:
        graph = build_graph(long_term=long_term, short_term=short_term, embedder=embedder, checkpointer=checkpointer)
        await run_turn(graph, user_id="pb", conversation_id="x:c1", message="My password is tangerine-41.")
        await run_turn(graph, user_id="pb:x", conversation_id="c1", message="My password is walrus-77.")
        assert await checkpoint_threads(checkpointer, "pb", {"x:c1"}) == {"pb:x%3Ac1"}
        assert await checkpoint_threads(checkpointer, "pb:x", {"c1"}) == {"pb%3Ax:c1"}
        own = await checkpointer.aget_tuple({"configurable": {"thread_id": "pb:x%3Ac1"}})
        assert own is not None and own.checkpoint["channel_values"]["message"] == "My password is tangerine-41."
    assert [t.content for t in (await short_term.load("pb", "x:c1")).turns][0] == "My password is tangerine-41."
    assert [t.content for t in (await short_term.load("pb:x", "c1")).turns][0] == "My password is walrus-77."


async def _legacy_checkpoints(path: Path, threads: dict[str, str | None]) -> None:
    """Checkpoints as the code before the encoding wrote them: raw ``<user>:<conversation>``, owner in metadata."""
    async with aiosqlite.connect(str(path)) as connection:
        graph = tally_graph(AsyncSqliteSaver(connection))
        for thread, owner in threads.items():
            config = {"configurable": {"thread_id": thread}, "metadata": {CHECKPOINT_USER_KEY: owner} if owner else {}}
            await graph.ainvoke({"said": [thread]}, config, durability="exit")


async def test_old_thread_ids_move_to_their_certain_owner_and_ambiguous_ones_to_nobody(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.sqlite"
    await _legacy_checkpoints(
        path,
        {
            "discord:123:discord:dm": "discord:123",  # a bot user: owner named, no other reading is a user
            "acme:alice:default": "acme:alice",
            "pb:x:c1": "pb:x",  # but user "pb" exists: pb may have written to it too
            "nobody:knows:this": None,  # no owner recorded: two readings
            "ann:monday": "ann",  # one ':': already the new form
            "pb:home": "pb",
        },
    )
    settings = load_settings(data_dir=tmp_path)
    async with open_checkpointer(settings) as checkpointer:
        assert await checkpointer.migrate_thread_ids(known_users={"pb"}) == (0, 2)  # the rest moved on open
        moved = await checkpointer.aget_tuple({"configurable": {"thread_id": thread_id("discord:123", "discord:dm")}})
        assert moved is not None and moved.checkpoint["channel_values"]["said"][0] == "discord:123:discord:dm"
        assert await checkpoint_threads(checkpointer, "acme:alice", set()) == {"acme%3Aalice:default"}
        assert await checkpoint_threads(checkpointer, "pb", {"x:c1"}) == {"pb:home"}
        assert await checkpoint_threads(checkpointer, "pb:x", {"c1"}) == set()
    threads = {thread for thread, _ in rows(path, "checkpoints")}
    assert threads == {
        "discord%3A123:discord%3Adm",
        "acme%3Aalice:default",
        "pb:x:c1",
        "nobody:knows:this",
        "ann:monday",
        "pb:home",
    }


async def test_an_old_thread_is_left_when_another_reading_names_a_known_user(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.sqlite"
    await _legacy_checkpoints(path, {"pb:x:c1": "pb:x"})
    async with aiosqlite.connect(str(path)) as connection:
        saver = LatestCheckpointSaver(connection)
        assert await saver.migrate_thread_ids(known_users={"pb", "pb:x"}) == (0, 1)
        assert await saver.migrate_thread_ids(known_users={"pb:x"}) == (1, 0)
        assert await saver.legacy_thread_ids() == []
    assert {thread for thread, _ in rows(path, "checkpoints")} == {"pb%3Ax:c1"}


async def test_old_redis_keys_are_renamed_so_context_and_state_survive(redis: Redis, redis_url: str) -> None:
    turn = json.dumps({"role": "user", "content": "I moved to Lisbon.", "ts": 1.0})
    await redis.rpush("companion:u:{acme:alice}:c:{team:1}:turns", turn)
    await redis.set("companion:u:{acme:alice}:personality:{default}", json.dumps({"user_id": "acme:alice"}))
    await redis.set("companion:u:{bob}:last_active", "5")
    await redis.rpush("companion:u:{acme%3Aalice}:c:{x}:turns", turn)  # already new: stays
    client = redis_sync.Redis.from_url(redis_url)
    try:
        assert migrate_redis_keys(client) == 2
        assert migrate_redis_keys(client) == 0  # once per database
        assert int(client.get(KEYS_VERSION_KEY) or 0) == 2
    finally:
        client.close()
    context = await ShortTermStore(redis).load("acme:alice", "team:1")
    assert [t.content for t in context.turns] == ["I moved to Lisbon."]
    assert await redis.exists(state_key("acme:alice", "default"), last_active_key("bob")) == 2
    assert sorted(k.decode() for k in await redis.keys("*{acme*")) == [
        "companion:u:{acme%3Aalice}:c:{team%3A1}:turns",
        "companion:u:{acme%3Aalice}:c:{x}:turns",
        "companion:u:{acme%3Aalice}:personality:{default}",
    ]
    assert hash_tag("acme:alice") == "{acme%3Aalice}"
