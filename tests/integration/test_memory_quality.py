"""Memory that keeps what matters, end to end over real Redis, Chroma and the real embedder (issue 19).

Facts over chatter: every message is kept, but what the user told ranks above what they asked, and the offline
responder never quotes a question back as a fact. Only the chat model would be faked; these runs use none.
"""

import json
import time
from typing import Any

from chromadb.api import ClientAPI
from langgraph.checkpoint.memory import InMemorySaver
from redis.asyncio import Redis

from companion.ingest import Ingestor, implicate_chat_batch

from graphs.association import associate
from graphs.association import build_graph as build_association
from graphs.conversation import build_graph, run_turn
from memory.embeddings import Embedder
from memory.links import LinkStore
from memory.long_term import LongTermStore
from memory.records import MemoryRecord, new_id
from memory.short_term import ShortTermStore
from tools.detection import load_detector
from tools.recall import recall

USER = "quality-user"


def conversation(long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder) -> Any:
    return build_graph(long_term=long_term, short_term=short_term, embedder=embedder, checkpointer=InMemorySaver())


async def test_every_message_is_stored_with_its_utterance_type(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = conversation(long_term, short_term, embedder)
    said = {"My PIN is 4321.": "statement", "what is my PIN?": "question", "lol ok": "small_talk"}
    for text in said:
        await run_turn(graph, user_id=USER, message=text)
    stored = {record.text: record.utterance for record in long_term.list_memories(USER)}
    assert stored == said  # nothing thrown away, each labelled


async def test_the_fact_ranks_above_the_question_that_asked_for_it(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = conversation(long_term, short_term, embedder)
    await run_turn(graph, user_id=USER, conversation_id="monday", message="My PIN is 4321.")
    await run_turn(graph, user_id=USER, conversation_id="friday", message="what is my PIN?")

    found = recall(long_term, embedder, USER, "what is my PIN?", 3)

    texts = [item.candidate.text for item in found.selected]
    assert texts[0] == "My PIN is 4321."
    assert "what is my PIN?" in texts  # still searchable, ranked lower


async def test_the_offline_responder_never_quotes_a_question_back_as_a_fact(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = conversation(long_term, short_term, embedder)
    await run_turn(graph, user_id=USER, conversation_id="a", message="What band do I like?")

    state = await run_turn(graph, user_id=USER, conversation_id="b", message="What band do I like again?")

    assert "What band do I like?" in [memory["text"] for memory in state["memories"]]
    assert "What band do I like?" not in state["reply"] and "You told me" not in state["reply"]

    await run_turn(graph, user_id=USER, conversation_id="c", message="I like Radiohead a lot.")
    state = await run_turn(graph, user_id=USER, conversation_id="d", message="What band do I like?")
    assert "I like Radiohead a lot." in state["reply"] and "What band do I like?\u201d" not in state["reply"]


async def test_a_question_asked_with_feeling_is_not_made_into_a_memory(
    chroma_client: ClientAPI, long_term: LongTermStore, embedder: Embedder
) -> None:
    links = LinkStore(chroma_client)
    text = "Why did my best friend stop talking to me?? I am so sad about it"
    question = MemoryRecord(
        id=new_id(),
        user_id=USER,
        text="Why did my best friend stop talking to me??",
        importance=800,
        emotion="sadness",
        emotion_intensity=80,
        created_at=time.time(),
    )
    long_term.add(USER, [question], embedder.embed([question.text]))
    statement = MemoryRecord(
        id=new_id(),
        user_id=USER,
        text=text.replace("Why did my best friend stop talking to me??", "My best friend stopped talking to me."),
        importance=800,
        emotion="sadness",
        emotion_intensity=80,
        created_at=time.time(),
    )
    long_term.add(USER, [statement], embedder.embed([statement.text]))
    graph = build_association(long_term=long_term, links=links, embedder=embedder)

    outcomes = await associate(graph, user_id=USER, message_ids=[question.id, statement.id])

    assert outcomes[question.id] == "skipped"
    assert outcomes[statement.id] != "skipped"


# -- one copy ----------------------------------------------------------------------------------------------------
async def test_the_implicators_copy_of_a_message_the_chat_turn_stored_is_not_stored_again(
    redis: Redis, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, chroma_client: ClientAPI
) -> None:
    links = LinkStore(chroma_client)
    graph = conversation(long_term, short_term, embedder)
    await run_turn(graph, user_id=USER, conversation_id="tg-chat-1", message="my dog Rex learned to sit today")
    fields = {
        "platform": "telegram",
        "chat_id": "1",
        "messages": json.dumps(
            [
                {"user_id": USER, "text": "@companion_bot my dog Rex learned to sit today", "ts": time.time()},
                {"user_id": USER, "text": "My dog Rex learned to sit today!!", "ts": time.time()},
                {"user_id": USER, "text": "and my sister Ana is visiting on Sunday", "ts": time.time()},
                {"user_id": USER, "text": "and my sister Ana is visiting on Sunday", "ts": time.time()},
            ]
        ),
    }
    assert await implicate_chat_batch(redis, links, "entry-1", fields) == 1
    ingestor = Ingestor(redis=redis, long_term=long_term, links=links, embedder=embedder, detector_factory=load_detector)
    (submission,) = links.raws(USER)

    assert await ingestor.ingest_submission(USER, submission.submission_id) == 1

    texts = sorted(record.text for record in long_term.list_memories(USER))
    assert texts == ["and my sister Ana is visiting on Sunday", "my dog Rex learned to sit today"]
    assert await ingestor.ingest_submission(USER, submission.submission_id) == 1  # processing it again: one copy
    assert long_term.count(USER) == 2
