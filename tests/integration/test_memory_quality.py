"""Memory that keeps what matters, end to end over real Redis, Chroma and the real embedder (issue 19).

Facts over chatter: every message is kept, but what the user told ranks above what they asked, and the offline
responder never quotes a question back as a fact. Only the chat model would be faked; these runs use none.
"""

import json
import time
from pathlib import Path
from typing import Any

import pytest
from chromadb.api import ClientAPI
from langgraph.checkpoint.memory import InMemorySaver
from redis.asyncio import Redis

from companion.runtime.ingest import Ingestor, implicate_chat_batch
from graphs.association import associate
from graphs.association import build_graph as build_association
from graphs.conversation import build_graph, run_turn
from memory.embeddings import Embedder
from memory.links import LinkStore
from memory.long_term import LongTermStore
from memory.records import MemoryRecord, new_id, normalised_content
from memory.short_term import ShortTermStore
from tests.integration.memory_helpers import contained_pairs
from tools.detection import load_detector
from tools.recall import recall

USER = "quality-user"
LOCOMO_TURNS = Path(__file__).resolve().parents[1] / "fixtures" / "locomo_turns_1000.jsonl"


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
    ingestor = Ingestor(
        redis=redis, long_term=long_term, links=links, embedder=embedder, detector_factory=load_detector
    )
    (submission,) = links.raws(USER)

    assert await ingestor.ingest_submission(USER, submission.submission_id) == 1

    texts = sorted(record.text for record in long_term.list_memories(USER))
    assert texts == ["and my sister Ana is visiting on Sunday", "my dog Rex learned to sit today"]
    assert await ingestor.ingest_submission(USER, submission.submission_id) == 1  # processing it again: one copy
    assert long_term.count(USER) == 2


# -- the newest truth --------------------------------------------------------------------------------------------
async def test_a_new_job_supersedes_the_old_one_at_write_time_and_recall_returns_the_newest(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = conversation(long_term, short_term, embedder)
    old = await run_turn(graph, user_id=USER, conversation_id="jan", message="I work at Initech as a tester.")
    await run_turn(graph, user_id=USER, conversation_id="jan", message="My sister Ana loves horses.")
    new = await run_turn(graph, user_id=USER, conversation_id="mar", message="I now work at Globex.")

    assert new["supersedes"] == [old["memory_id"]]
    stored_old = long_term.get(USER, old["memory_id"])
    stored_new = long_term.get(USER, new["memory_id"])
    assert stored_old is not None and stored_old.superseded_by == new["memory_id"]
    assert stored_new is not None and stored_new.supersedes == old["memory_id"]

    found = recall(long_term, embedder, USER, "Where do I work?", 3)
    texts = [item.candidate.text for item in found.selected]
    assert texts.index("I now work at Globex.") < texts.index("I work at Initech as a tester.")
    state = await run_turn(graph, user_id=USER, conversation_id="apr", message="Where do I work these days?")
    assert "Globex" in state["reply"] and "Initech" not in state["reply"]


async def test_a_same_day_correction_wins_over_a_more_important_older_value(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    blue = MemoryRecord(
        id=new_id(), user_id=USER, text="My favourite colour is blue.", importance=900, created_at=time.time() - 600
    )
    long_term.add(USER, [blue], embedder.embed([blue.text]))
    graph = conversation(long_term, short_term, embedder)

    await run_turn(graph, user_id=USER, message="My favourite colour is green.")

    found = recall(long_term, embedder, USER, "What is my favourite colour?", 3)
    assert found.selected[0].candidate.text == "My favourite colour is green."
    stored = long_term.get(USER, blue.id)
    assert stored is not None and stored.superseded_by


async def test_a_compatible_addition_supersedes_nothing(
    long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    graph = conversation(long_term, short_term, embedder)
    first = await run_turn(graph, user_id=USER, message="I live in Lyon.")
    second = await run_turn(graph, user_id=USER, message="I live in Lyon with my wife and our cat.")

    assert second["supersedes"] == []
    stored = long_term.get(USER, first["memory_id"])
    assert stored is not None and stored.superseded_by == ""


@pytest.mark.slow
async def test_a_hundred_turn_chat_and_a_group_leave_one_copy_of_everything(
    redis: Redis, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, chroma_client: ClientAPI
) -> None:
    # 100 LoCoMo turns in a private chat, associated ten at a time as the worker does, then a group batch holding the
    # bot's mention copies of 20 of them and 10 new lines, delivered twice: each content must be kept once
    turns = [json.loads(line)["text"] for line in LOCOMO_TURNS.read_text(encoding="utf-8").splitlines()[:110]]
    links = LinkStore(chroma_client)
    graph = conversation(long_term, short_term, embedder)
    association = build_association(long_term=long_term, links=links, embedder=embedder)
    outcomes: dict[str, str] = {}
    for start in range(0, 100, 10):
        ids = [
            (await run_turn(graph, user_id=USER, conversation_id="private", message=text))["memory_id"]
            for text in turns[start : start + 10]
        ]
        outcomes |= await associate(association, user_id=USER, message_ids=ids)
    assert set(outcomes.values()) - {"skipped"}, "association decided nothing: the check below would prove little"
    lines = [f"@companion_bot {text}" for text in turns[:20]] + turns[100:110]
    batch = [{"user_id": USER, "text": text, "ts": time.time()} for text in lines]
    fields = {"platform": "telegram", "chat_id": "7", "messages": json.dumps(batch)}
    ingestor = Ingestor(
        redis=redis, long_term=long_term, links=links, embedder=embedder, detector_factory=load_detector
    )
    for entry in ("entry-1", "entry-2"):
        await implicate_chat_batch(redis, links, entry, fields)
    for submission in links.raws(USER):
        await ingestor.ingest_submission(USER, submission.submission_id)

    # every message kept once: no memory is contained in another (the chat turn's copy, the mention copy, a
    # redelivery, a version that copied a message's words)
    memories = long_term.list_memories(USER, limit=1000)
    contained = contained_pairs(memories)
    assert contained == [], contained[:3]
    kept = {normalised_content(record.text) for record in memories}
    assert {normalised_content(text) for text in turns[:110]} <= kept  # and nothing was lost
