"""Retried requests store nothing twice: an Idempotency-Key over REST, a fixed turn id in the graph."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from redis.asyncio import Redis

from companion.core.errors import ConflictError, InvalidInputError
from graphs.conversation import run_turn
from memory.embeddings import Embedder
from memory.idempotency import IdempotencyStore, idempotent_request
from memory.long_term import LongTermStore
from memory.short_term import ShortTermStore
from tests.integration.api_helpers import api_client, make_key
from tests.integration.test_conversation_graph import graph_over


async def test_a_turn_retried_with_its_turn_id_is_stored_once_and_the_next_turn_gets_a_new_id(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    turn_id = idempotent_request("idem-ana", "retry-1").turn_id
    first = await run_turn(graph, user_id="idem-ana", message="My locker code is on a blue note.", turn_id=turn_id)
    again = await run_turn(graph, user_id="idem-ana", message="My locker code is on a blue note.", turn_id=turn_id)
    assert first["memory_id"] == again["memory_id"] == turn_id
    assert long_term.count("idem-ana") == 1
    # the thread's checkpoint keeps every key: the next turn, sent without an id, must not reuse the last one
    later = await run_turn(graph, user_id="idem-ana", message="And my bike is red.")
    assert later["memory_id"] != turn_id and long_term.count("idem-ana") == 2


async def test_a_malformed_turn_id_is_refused_before_anything_is_written(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = graph_over(long_term, short_term, embedder)
    with pytest.raises(InvalidInputError, match="32 lowercase hexadecimal"):
        await run_turn(graph, user_id="idem-bo", message="hello", turn_id="../../etc")
    assert long_term.count("idem-bo") == 0


async def test_a_second_attempt_while_the_first_runs_is_a_conflict_and_a_finished_one_is_replayed(redis: Redis) -> None:
    store = IdempotencyStore(redis)
    request = idempotent_request("idem-cy", str(uuid.uuid4()))
    assert await store.begin(request) is None
    with pytest.raises(ConflictError):
        await store.begin(request)
    await store.finish(request, '{"reply": "hi"}')
    assert await store.begin(request) == '{"reply": "hi"}'
    other = idempotent_request("idem-cy", str(uuid.uuid4()))
    assert await store.begin(other) is None  # another key is another request
    await store.abandon(other)
    assert await store.begin(other) is None  # an abandoned attempt can be retried


def test_keys_are_scoped_to_their_user_and_checked() -> None:
    assert idempotent_request("a", "k").turn_id != idempotent_request("b", "k").turn_id
    for bad in ("", "has space", "x" * 256, "naïve"):
        with pytest.raises(InvalidInputError):
            idempotent_request("a", bad)


def test_rest_chat_retried_with_an_idempotency_key_stores_one_memory_and_replays_the_answer(
    tmp_path: Path, redis_url: str
) -> None:
    user = "idem-rest-dee"
    auth = make_key(redis_url, user_id=user)
    body = {"user_id": user, "message": "I start my new job at the bakery on Monday."}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    with api_client(tmp_path, redis_url) as client:
        first = client.post("/v1/chat", json=body, headers={**auth, **key})
        assert first.status_code == 200, first.text
        assert "Idempotent-Replayed" not in first.headers
        retried = client.post("/v1/chat", json=body, headers={**auth, **key})
        assert retried.status_code == 200 and retried.headers["Idempotent-Replayed"] == "true"
        assert retried.json() == first.json()
        fresh = client.post("/v1/chat", json=body, headers={**auth, "Idempotency-Key": str(uuid.uuid4())})
        assert fresh.json()["memory_id"] != first.json()["memory_id"]
        total = client.get(f"/v1/users/{user}/memories", headers=auth).json()["total"]
        assert total == 2  # the retry added nothing; the new key is a new message
        bad = client.post("/v1/chat", json=body, headers={**auth, "Idempotency-Key": "two words"})
        assert bad.status_code == 422 and "idempotency-key" in bad.json()["detail"].lower()
