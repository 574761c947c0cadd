"""The bots' Redis pieces against the real server: batch queue retries, relationship counts."""

import json

import pytest
from bot_support import ManualClock
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bots.common.chat_buffer import BufferedMessage, ChatBatch, ChatBatchQueue
from bots.common.relationships import RelationshipStore
from bots.common.response_flow import Relationship
from companion.core.errors import StoreUnavailableError
from memory.short_term import ASSOCIATION_STREAM


def batch(chat_id: str, text: str) -> ChatBatch:
    return ChatBatch(chat_id, (BufferedMessage(chat_id, "telegram:1", "ann", text, 1.0),), summary=f"ann: {text}")


async def test_a_batch_that_could_not_be_queued_is_sent_first_once_redis_is_back(redis: Redis) -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    queue = ChatBatchQueue(unreachable, platform="telegram")
    with pytest.raises(StoreUnavailableError):
        await queue.push(batch("-1", "first"))
    assert queue.pending == 1
    queue.redis = redis
    written = await queue.push(batch("-1", "second"))
    assert len(written) == 2 and queue.pending == 0
    entries = await redis.xrange(ASSOCIATION_STREAM)
    texts = [json.loads(fields[b"messages"])[0]["text"] for _, fields in entries]
    assert texts == ["first", "second"]
    await unreachable.aclose()


async def test_relationship_grows_from_stranger_to_known_to_friend_over_days(redis: Redis) -> None:
    clock = ManualClock()
    store = RelationshipStore(redis, clock=clock)
    levels = [await store.record_message("telegram:9", admin=False) for _ in range(5)]
    assert levels[:4] == [Relationship.STRANGER] * 4 and levels[4] is Relationship.KNOWN
    for _ in range(25):
        await store.record_message("telegram:9", admin=False)
    assert await store.relationship("telegram:9", admin=False) is Relationship.KNOWN  # 30 messages, one day
    clock.current += 86400
    await store.record_message("telegram:9", admin=False)
    clock.current += 86400
    assert await store.record_message("telegram:9", admin=False) is Relationship.FRIEND
    assert await store.relationship("telegram:10", admin=True) is Relationship.ADMIN
