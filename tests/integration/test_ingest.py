"""Raw ingestion: bad lines reported by number, whole-file rejection or skipping, status, retention cleanup and
the hierarchy's raw level. Real Redis and real Chroma."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chromadb.api import ClientAPI
from conftest import fake_chat_model
from langchain_core.language_models import BaseChatModel
from redis.asyncio import Redis

from companion.cli.main import main
from companion.core.errors import InvalidInputError
from companion.runtime.ingest import (
    INGEST_STREAM,
    LOST_SUBMISSION_AGE_SECONDS,
    Ingestor,
    cleanup_raw,
    cleanup_sessions,
    memory_tree,
    parse_transcript,
    requeue_lost_submissions,
    status_key,
    submission_status,
    submit_transcript,
)
from companion.runtime.worker import AssociationWorker
from graphs.association import build_graph
from memory.association_queue import AssociationQueue, RedisLLMBudget
from memory.embeddings import Embedder
from memory.links import LinkStore
from memory.long_term import LongTermStore
from memory.records import MemoryKind, MemoryRecord
from memory.short_term import ShortTermStore
from tools.detection import load_detector, perceive

GOOD = [
    {"role": "user", "content": "I adopted a kitten called Miso today!"},
    {"role": "assistant", "content": "Congratulations!"},
    {"role": "user", "content": "She sleeps on my keyboard.", "ts": "2026-11-20T10:00:00Z"},
]
TRANSCRIPT = "\n".join(
    [
        json.dumps(GOOD[0]),
        "this is not json",
        json.dumps(GOOD[1]),
        json.dumps({"role": "narrator", "content": "x"}),
        json.dumps({"role": "user", "content": "   "}),
        "",
        json.dumps(GOOD[2]),
        json.dumps({"role": "user", "content": "when?", "ts": "yesterday"}),
    ]
)


@pytest.fixture
def links(chroma_client: ClientAPI) -> LinkStore:
    return LinkStore(chroma_client)


def test_malformed_lines_are_reported_with_their_numbers() -> None:
    parsed = parse_transcript(TRANSCRIPT)
    assert [line.line for line in parsed.lines] == [1, 3, 7]
    assert [number for number, _ in parsed.errors] == [2, 4, 5, 8]
    assert "not JSON" in parsed.errors[0][1] and "role" in parsed.errors[1][1] and "ts" in parsed.errors[3][1]
    assert parsed.lines[2].ts == datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp()


async def test_a_file_with_malformed_lines_is_rejected_as_a_whole(redis: Redis, links: LinkStore) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await submit_transcript(
            redis, links, user_id="ing-u", session_id="s1", parsed=parse_transcript(TRANSCRIPT), source="chat.jsonl"
        )
    message = str(caught.value)
    assert "\n" not in message and "4 malformed line(s), nothing imported" in message
    assert all(f"line {n}:" in message for n in (2, 4, 5, 8))
    assert links.raws("ing-u") == [] and await redis.xlen(INGEST_STREAM) == 0


async def test_skipping_invalid_lines_queues_the_rest_and_keeps_the_skipped_numbers(
    redis: Redis, links: LinkStore
) -> None:
    submission = await submit_transcript(
        redis, links, user_id="ing-u", session_id="s1", parsed=parse_transcript(TRANSCRIPT), skip_invalid=True
    )
    assert submission.messages == 2 and submission.skipped_lines == [2, 4, 5, 8] and submission.queue_position == 1
    status = await submission_status(redis, submission.submission_id)
    assert status["status"] == "queued" and status["skipped_lines"] == [2, 4, 5, 8] and status["session_id"] == "s1"
    raw = links.raw("ing-u", submission.submission_id)
    assert raw is not None and [line["content"] for line in raw.lines] == [g["content"] for g in GOOD]
    with pytest.raises(InvalidInputError):
        await submission_status(redis, "no-such-submission")


async def test_a_transcript_without_user_messages_is_rejected(redis: Redis, links: LinkStore) -> None:
    parsed = parse_transcript(json.dumps({"role": "assistant", "content": "hello"}))
    with pytest.raises(InvalidInputError, match="no user message"):
        await submit_transcript(redis, links, user_id="ing-u", session_id="s1", parsed=parsed)


async def test_cleanup_removes_only_processed_transcripts_past_retention(redis: Redis, links: LinkStore) -> None:
    parsed = parse_transcript("\n".join(json.dumps(line) for line in GOOD))
    done = await submit_transcript(redis, links, user_id="ing-c", session_id="s1", parsed=parsed)
    waiting = await submit_transcript(redis, links, user_id="ing-c", session_id="s2", parsed=parsed)
    await redis.hset(status_key(done.submission_id), "status", "done")
    assert await cleanup_raw(redis, links, retention_days=30) == 0  # nothing is 30 days old yet
    later = time.time() + 31 * 86400
    assert await cleanup_raw(redis, links, retention_days=30, now=later) == 1
    assert links.raw("ing-c", done.submission_id) is None
    assert links.raw("ing-c", waiting.submission_id) is not None  # not processed yet: kept


async def test_session_summaries_are_kept_365_days_after_their_last_submission_and_memories_forever(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    parsed = parse_transcript("\n".join(json.dumps(line) for line in GOOD))
    await submit_transcript(redis, links, user_id="ing-year", session_id="kitten", parsed=parsed)
    await worker_for(redis, long_term, links, embedder).drain()
    memories = long_term.count("ing-year")
    assert memories >= 1 and len(links.summaries("ing-year")) == 1
    assert await cleanup_sessions(redis, links, retention_days=365, now=time.time() + 364 * 86400) == 0
    assert await cleanup_sessions(redis, links, retention_days=365, now=time.time() + 366 * 86400) == 1
    assert links.summaries("ing-year") == [] and long_term.count("ing-year") == memories


async def test_cleanup_keeps_a_transcript_whose_status_redis_lost(redis: Redis, links: LinkStore) -> None:
    parsed = parse_transcript("\n".join(json.dumps(line) for line in GOOD))
    queued = await submit_transcript(redis, links, user_id="ing-l", session_id="s1", parsed=parsed)
    await redis.flushall()  # Redis loses the status (and the queue): the transcript was never processed
    later = time.time() + 31 * 86400
    assert await cleanup_raw(redis, links, retention_days=30, now=later, user_ids=["ing-l"]) == 0
    assert links.raw("ing-l", queued.submission_id) is not None


async def test_tree_lists_raw_transcripts_per_session_with_filters(
    redis: Redis, links: LinkStore, long_term: LongTermStore
) -> None:
    parsed = parse_transcript("\n".join(json.dumps(line) for line in GOOD))
    first = await submit_transcript(redis, links, user_id="ing-t", session_id="s1", parsed=parsed)
    await submit_transcript(redis, links, user_id="ing-t", session_id="s2", parsed=parsed)
    tree = memory_tree(long_term, links, "ing-t", memory_type="raw")
    assert [s["session_id"] for s in tree["sessions"]] == ["s1", "s2"]
    assert tree["sessions"][0]["raw"] == [
        {"submission_id": first.submission_id, "created_at": pytest.approx(time.time(), abs=60), "lines": 3}
    ]
    assert "memories" not in tree["sessions"][0] and "summary" not in tree["sessions"][0]
    only = memory_tree(long_term, links, "ing-t", session_id="s2", memory_type="all")
    assert [s["session_id"] for s in only["sessions"]] == ["s2"]
    assert memory_tree(long_term, links, "ing-t", memory_type="raw", end=time.time() - 3600)["sessions"][0]["raw"] == []
    for bad in ({"limit": 0}, {"limit": 1001}, {"memory_type": "everything"}):
        with pytest.raises(InvalidInputError):
            memory_tree(long_term, links, "ing-t", **bad)  # type: ignore[arg-type]


def test_cli_rejects_a_malformed_file_in_one_line_naming_the_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path / "data"))
    transcript = tmp_path / "chat.jsonl"
    transcript.write_text(TRANSCRIPT)
    code = main(["ingest", "--user", "cli-u", "--session", "s1", str(transcript), "--json"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "line 2:" in err and "--skip-invalid" in err
    assert not (tmp_path / "data" / "chroma").exists()  # rejected before any store was opened


# -- processing, with the real local detector ----------------------------------------------------------------
SESSION = [
    {"role": "user", "content": "I am so excited, I finally got the job at the aquarium!"},
    {"role": "assistant", "content": "That is wonderful news!"},
    {"role": "user", "content": "My grandmother died last week and I miss her terribly."},
    {"role": "assistant", "content": "I am so sorry."},
    {"role": "user", "content": "What time is it?"},
    {"role": "user", "content": "I am terrified of the surgery on Monday."},
]


def worker_for(redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder) -> AssociationWorker:
    ingestor = Ingestor(
        redis=redis,
        long_term=long_term,
        links=links,
        embedder=embedder,
        detector_factory=load_detector,
        retry_wait_seconds=0.01,
    )
    graph = build_graph(long_term=long_term, links=links, embedder=embedder)
    return AssociationWorker(
        queue=AssociationQueue(redis), graph=graph, ingestor=ingestor.process_submissions, retry_wait_seconds=0.01
    )


async def test_an_ingested_session_becomes_memories_a_summary_and_associations(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    before = await AssociationQueue(redis).stats()
    parsed = parse_transcript("\n".join(json.dumps(line) for line in SESSION))
    submission = await submit_transcript(redis, links, user_id="ing-p", session_id="week", parsed=parsed)
    result = await worker_for(redis, long_term, links, embedder).drain()
    assert result.ingested == 1 and result.processed == 4  # every user message went through association
    after = await AssociationQueue(redis).stats()  # the per-day processing stats count ingestion too
    assert (after["ingested"] - before["ingested"], after["ingested_messages"] - before["ingested_messages"]) == (1, 4)

    status = await submission_status(redis, submission.submission_id)
    assert status["status"] == "done" and status["memories"] == 4
    stored = long_term.recent_turns("ing-p", "week", since=0, limit=100)
    assert [r.text for r in stored] == [line["content"] for line in SESSION if line["role"] == "user"]
    assert [r.reply for r in stored] == ["That is wonderful news!", "I am so sorry.", "", ""]
    assert all(r.emotion and 100 <= r.importance <= 900 for r in stored)  # detected, not defaults
    assert all(r.sensitivity_confidence >= 0.6 for r in stored)  # classified (design seed 002), not defaults
    detections = [seen.detection for seen in perceive([r.text for r in stored], embedder)]  # as a turn perceives
    assert [(r.emotion, r.emotion_intensity) for r in stored] == [(d.emotion, d.intensity) for d in detections]
    signals = {r.id for r, d in zip(stored, detections, strict=True) if d.is_emotional_signal}
    assert signals and set(links.outcomes("ing-p", [r.id for r in stored])) == signals
    assert long_term.pending("ing-p") == []  # queued with the pending mark, which association cleared

    summary = links.summaries("ing-p", session_id="week")
    assert len(summary) == 1 and summary[0].memory_ids == [r.id for r in stored]
    assert summary[0].text and all(part in {r.text for r in stored} for part in _sentences_of(summary[0].text, stored))

    tree = memory_tree(long_term, links, "ing-p")
    (session,) = tree["sessions"]
    assert session["session_id"] == "week" and session["summary"]["memory_count"] == 4
    assert [m["id"] for m in session["memories"]] == [r.id for r in stored]
    assert session["raw"][0]["submission_id"] == submission.submission_id
    assert len(memory_tree(long_term, links, "ing-p", memory_type="discrete", limit=2)["sessions"][0]["memories"]) == 2

    again = Ingestor(redis=redis, long_term=long_term, links=links, embedder=embedder, detector_factory=load_detector)
    count = long_term.count("ing-p")
    assert await again.ingest_submission("ing-p", submission.submission_id) == 4
    assert long_term.count("ing-p") == count  # processing a submission twice stores one copy
    assert len(long_term.pending("ing-p")) == 4  # queued again: marked until association has seen them again


TRIP = [
    {"role": "user", "content": "Hey Sam! Good to see you!"},
    {"role": "assistant", "content": "Hi! How have you been? Anything new?"},
    {
        "role": "user",
        "content": "We just got back from two weeks in Lisbon with my sister, we rented a flat in Alfama.",
    },
    {"role": "assistant", "content": "Lovely! What was the best part?"},
    {"role": "user", "content": "The tram up to the castle at sunset, and my sister finally met her pen pal there."},
    {"role": "user", "content": "OMG it was SO amazing!!! Best. Week. Ever!!!"},
    {"role": "user", "content": "lol yes"},
    {"role": "user", "content": "Thanks so much, you are the best!"},
    {"role": "user", "content": "Anyway, what are you up to this weekend?"},
]


async def test_an_offline_session_summary_says_where_the_trip_went_without_the_greeting(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    parsed = parse_transcript("\n".join(json.dumps(line) for line in TRIP))
    await submit_transcript(redis, links, user_id="ing-trip", session_id="lisbon", parsed=parsed)
    assert (await worker_for(redis, long_term, links, embedder).drain()).ingested == 1
    (summary,) = links.summaries("ing-trip", session_id="lisbon")
    assert "Lisbon" in summary.text and "castle" in summary.text
    assert "Hey Sam" not in summary.text and "weekend" not in summary.text and "lol" not in summary.text
    stored = long_term.recent_turns("ing-trip", "lisbon", since=0, limit=10)
    assert len(stored) == 7 and summary.memory_ids == [r.id for r in stored]  # every line is kept, and pointed at


async def test_a_lines_ref_is_kept_on_its_memory_through_ingestion(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    lines = [
        {"role": "user", "content": "Mel: I ran a charity race for mental health.", "ref": "D1:3"},
        {"role": "user", "content": "Caroline: That is great, Mel!", "ref": 4},
        {"role": "user", "content": "Mel: Thanks!"},
    ]
    parsed = parse_transcript("\n".join(json.dumps(line) for line in lines))
    assert [line.ref for line in parsed.lines] == ["D1:3", "4", ""]
    await submit_transcript(redis, links, user_id="ing-ref", session_id="s1", parsed=parsed)
    assert (await worker_for(redis, long_term, links, embedder).drain()).ingested == 1
    stored = long_term.recent_turns("ing-ref", "s1", since=0, limit=10)
    assert [(r.text, r.source_ref) for r in stored] == [(line["content"], str(line.get("ref", ""))) for line in lines]
    assert long_term.get("ing-ref", stored[0].id).source_ref == "D1:3"  # type: ignore[union-attr]


def test_a_ref_that_is_not_text_or_too_long_is_a_numbered_error() -> None:
    bad = [{"role": "user", "content": "hi", "ref": ["D1"]}, {"role": "user", "content": "hi", "ref": "x" * 201}]
    parsed = parse_transcript("\n".join(json.dumps(line) for line in bad))
    assert parsed.lines == [] and [number for number, _ in parsed.errors] == [1, 2]
    assert all("ref must be" in problem for _, problem in parsed.errors)


def _sentences_of(summary: str, stored: list[MemoryRecord]) -> list[str]:
    return [r.text for r in stored if r.text in summary]


async def test_a_submission_that_keeps_failing_is_marked_failed_with_the_reason(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    parsed = parse_transcript("\n".join(json.dumps(line) for line in SESSION))
    submission = await submit_transcript(redis, links, user_id="ing-f", session_id="gone", parsed=parsed)
    links.delete_raw("ing-f", [submission.submission_id])  # its transcript vanished before processing
    result = await worker_for(redis, long_term, links, embedder).drain()
    assert result.dead == 1
    status = await submission_status(redis, submission.submission_id)
    assert status["status"] == "failed" and "is gone" in status["error"]
    assert long_term.count("ing-f") == 0


def ingestor_with(
    chat_model: BaseChatModel, redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> Ingestor:
    """An ingestor with ``chat_model`` and a budget of five calls a minute."""
    return Ingestor(
        redis=redis,
        long_term=long_term,
        links=links,
        embedder=embedder,
        detector_factory=load_detector,
        chat_model=chat_model,
        llm_budget=RedisLLMBudget(redis, per_minute=5),
    )


async def test_with_a_chat_model_the_session_summary_is_written_by_it(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    parsed = parse_transcript("\n".join(json.dumps(line) for line in SESSION))
    submission = await submit_transcript(redis, links, user_id="ing-l", session_id="week", parsed=parsed)
    facts = "Facts:\n- I got a job at the aquarium.\n- My grandmother died last week.\n* I have surgery on Monday."
    facts += "\n- none"
    summary_text = "A new job at the aquarium, grief for a grandmother, fear of surgery."
    ingestor = ingestor_with(fake_chat_model(facts, summary_text), redis, long_term, links, embedder)
    assert await ingestor.ingest_submission("ing-l", submission.submission_id) == 4 + 3
    (summary,) = links.summaries("ing-l", session_id="week")
    assert summary.text == summary_text

    # the facts are memories of their own, in the user's voice, pointed at by the summary; the lines stay as said
    said = long_term.recent_turns("ing-l", "week", since=0, limit=10)
    assert [r.text for r in said] == [line["content"] for line in SESSION if line["role"] == "user"]
    facts = [r for r in long_term.get_many("ing-l", summary.memory_ids) if r.id not in {m.id for m in said}]
    assert sorted(r.text for r in facts) == [
        "I got a job at the aquarium.",
        "I have surgery on Monday.",
        "My grandmother died last week.",
    ]
    assert all(r.kind is MemoryKind.SEMANTIC and r.source_ref == "extracted" and r.importance >= 100 for r in facts)
    (session,) = memory_tree(long_term, links, "ing-l")["sessions"]
    assert {f["text"] for f in session["facts"]} == {r.text for r in facts}


async def test_a_chat_model_that_fails_leaves_the_session_to_the_offline_path(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    parsed = parse_transcript("\n".join(json.dumps(line) for line in TRIP))
    submission = await submit_transcript(redis, links, user_id="ing-down", session_id="lisbon", parsed=parsed)
    ingestor = ingestor_with(fake_chat_model(), redis, long_term, links, embedder)  # no answer left: each call raises
    assert await ingestor.ingest_submission("ing-down", submission.submission_id) == 7
    (summary,) = links.summaries("ing-down", session_id="lisbon")
    assert "Lisbon" in summary.text  # the offline summary


async def test_a_transcript_redis_lost_before_processing_is_found_again_and_processed_once(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    worker = worker_for(redis, long_term, links, embedder)
    await worker.drain()  # a running worker: its consumer groups exist, then Redis loses everything
    parsed = parse_transcript("\n".join(json.dumps(line) for line in SESSION))
    lost = await submit_transcript(redis, links, user_id="ing-lost", session_id="s1", parsed=parsed)
    await redis.flushall()  # the status, the queue entry and the consumer groups are gone; the transcript is not
    later = time.time() + LOST_SUBMISSION_AGE_SECONDS + 1

    assert await requeue_lost_submissions(redis, links, long_term) == 0  # too young: its writer may be queuing it
    assert await requeue_lost_submissions(redis, links, long_term, now=later) == 1
    assert await requeue_lost_submissions(redis, links, long_term, now=later) == 0  # queued now: not twice
    assert (await submission_status(redis, lost.submission_id))["status"] == "queued"
    assert await cleanup_raw(redis, links, retention_days=0, now=later) == 0  # never deletes the unprocessed

    result = await worker.drain()  # the same worker: it makes its lost consumer groups again
    assert result.ingested == 1 and result.processed == 4
    assert len(long_term.recent_turns("ing-lost", "s1", since=0, limit=100)) == 4

    await redis.flushall()  # processed, then its status lost too: nothing to do again
    assert await requeue_lost_submissions(redis, links, long_term, now=later) == 0


async def test_an_ingested_line_that_changes_a_fact_supersedes_the_older_value(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    old_job = MemoryRecord(id="old-job", user_id="ing-up", text="I work at Acme.", created_at=time.time() - 3600)
    long_term.add("ing-up", [old_job], embedder.embed([old_job.text]))
    lines = [
        {"role": "user", "content": "My dog is called Rex."},
        {"role": "user", "content": "I love long walks by the river."},
        {"role": "user", "content": "I work at Globex now."},
        {"role": "user", "content": "Actually my dog is called Bolt, Rex was my old dog."},
    ]
    parsed = parse_transcript("\n".join(json.dumps(line) for line in lines))
    await submit_transcript(redis, links, user_id="ing-up", session_id="s1", parsed=parsed)
    assert (await worker_for(redis, long_term, links, embedder).drain()).ingested == 1
    rex, walks, globex, bolt = long_term.recent_turns("ing-up", "s1", since=0, limit=10)
    assert (globex.supersedes, bolt.supersedes) == ("old-job", rex.id)  # a stored memory, and an earlier line
    assert long_term.get("ing-up", "old-job").superseded_by == globex.id  # type: ignore[union-attr]
    assert (rex.superseded_by, walks.superseded_by, walks.supersedes) == (bolt.id, "", "")


async def test_a_user_who_only_sends_sessions_is_on_the_schedulers_list_at_their_last_line(
    redis: Redis, long_term: LongTermStore, links: LinkStore, embedder: Embedder
) -> None:
    short_term = ShortTermStore(redis)
    assert "ing-only" not in await short_term.users_last_message()
    lines = [{**GOOD[0], "ts": "2026-11-20T09:00:00Z"}, GOOD[1], GOOD[2]]  # the user's last line at 10:00
    parsed = parse_transcript("\n".join(json.dumps(line) for line in lines))
    await submit_transcript(redis, links, user_id="ing-only", session_id="s", parsed=parsed)
    await worker_for(redis, long_term, links, embedder).drain()
    last_line = datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp()
    assert (await short_term.users_last_message())["ing-only"] == pytest.approx(last_line)
    # a later chat message stays the last one when an older session arrives after it
    await short_term.note_message_at("ing-only", last_line + 86400)
    older = parse_transcript(json.dumps({"role": "user", "content": "Back in May I ran a half marathon.", "ts": 1.0}))
    await submit_transcript(redis, links, user_id="ing-only", session_id="may", parsed=older)
    await worker_for(redis, long_term, links, embedder).drain()
    assert await short_term.last_message_at("ing-only") == pytest.approx(last_line + 86400)
