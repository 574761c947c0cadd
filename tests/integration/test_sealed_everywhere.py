"""A secret stays sealed in every Chroma record that quotes it, not only in the memory itself.

Association keeps versions (with the text and the message that caused them) and outcomes; ingestion keeps raw
transcripts and session summaries; reflection logs conflicts with both texts. All of them are read back through
their stores in plain text, and none of them holds the secret in plain text on disk."""

from __future__ import annotations

import re
import time

from chromadb.api import ClientAPI
from conftest import fake_chat_model

from graphs.association import associate
from graphs.association import build_graph as build_association
from graphs.reflection import archive_store, run_reflection
from graphs.reflection import build_graph as build_reflection
from memory.embeddings import Embedder
from memory.links import LinkStore, RawTranscript, SessionSummary
from memory.long_term import LongTermStore
from memory.records import MemoryKind, MemoryRecord, new_id
from memory.reflection_log import ReflectionLog
from memory.sensitivity import Sensitivity
from memory.short_term import ShortTermStore

USER = "sealed-user"
DAY = 86_400.0


def remember(long_term: LongTermStore, embedder: Embedder, text: str, *, at: float, **fields: object) -> MemoryRecord:
    record = MemoryRecord(
        id=new_id(),
        user_id=USER,
        text=text,
        created_at=at,
        importance=900,
        emotion_intensity=60,
        sensitivity=Sensitivity.SECRET,
        sensitivity_confidence=0.9,
        **fields,  # type: ignore[arg-type]
    )
    long_term.add(USER, [record], embedder.embed([text]))
    return record


def plain_on_disk(client: ClientAPI, secrets: list[str]) -> dict[str, list[str]]:
    """Which secrets each collection holds in plain text (documents or metadata).

    A secret counts as a number of its own: the same four digits inside a timestamp or a content hash are not it.
    """
    found: dict[str, list[str]] = {}
    for collection in client.list_collections():
        got = collection.get(include=["documents", "metadatas"])
        stored = " ".join(doc or "" for doc in got["documents"] or []) + str(got["metadatas"])
        if hits := [secret for secret in secrets if re.search(rf"(?<![\w.]){secret}(?!\w)", stored)]:
            found[collection.name] = hits
    return found


async def test_versions_outcomes_transcripts_summaries_and_conflicts_keep_secrets_sealed(
    chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder
) -> None:
    links = LinkStore(chroma_client, cipher=long_term.cipher)
    log = ReflectionLog(chroma_client, cipher=long_term.cipher)
    now = time.time()
    # association: a secret updated by a later secret message becomes a new version of the memory
    pin = remember(long_term, embedder, "My bank PIN is 4821.", at=now - 3 * DAY, kind=MemoryKind.SEMANTIC)
    new_pin = remember(long_term, embedder, "My bank PIN is now 9377.", at=now - 2 * DAY)
    association = build_association(long_term=long_term, links=links, embedder=embedder)
    assert await associate(association, user_id=USER, message_ids=[new_pin.id]) == {new_pin.id: "new_version"}
    # ingestion: a transcript and its summary
    line = {"role": "user", "content": "The alarm code is 5160."}
    links.put_raw(USER, RawTranscript("sub-1", "session-1", [line], now))
    links.put_summary(USER, SessionSummary("session-1", "They said the alarm code is 5160.", [], "sub-1", now))
    # reflection: two secrets the chat model judges to conflict
    remember(long_term, embedder, "My locker combination is 3307.", at=now - 2 * DAY)
    remember(long_term, embedder, "My locker combination is 3308.", at=now - DAY)
    verdict = (
        '{"has_conflict": true, "conflict_type": "factual_contradiction", "description": "two codes", '
        '"confidence": 0.9}'
    )
    reflection = build_reflection(
        long_term=long_term,
        archive=archive_store(long_term),
        short_term=short_term,
        log=log,
        embedder=embedder,
        chat_model=fake_chat_model(*[verdict] * 10),  # one verdict per similar pair
    )
    state = await run_reflection(reflection, user_id=USER, now=now, tasks=["conflicts"])
    assert state["conflicts"], "the two combinations should be logged as a conflict"

    secrets = ["4821", "9377", "5160", "3307", "3308"]
    assert plain_on_disk(chroma_client, secrets) == {}
    # ... and every store reads its records back in plain text
    history = links.versions(USER, pin.id)
    assert any("4821" in v.text for v in history) and any("9377" in v.cause_text for v in history)
    raw = links.raw(USER, "sub-1")
    assert raw is not None and (raw.session_id, raw.lines) == ("session-1", [line])
    assert "5160" in links.summaries(USER)[0].text
    logged = [entry.data["texts"] for entry in log.entries(USER, type="conflict")]
    assert ["My locker combination is 3307.", "My locker combination is 3308."] in logged


def test_a_store_without_the_cipher_refuses_sealed_records_in_one_line(
    chroma_client: ClientAPI, long_term: LongTermStore
) -> None:
    LinkStore(chroma_client, cipher=long_term.cipher).put_summary(
        USER, SessionSummary("s", "The alarm code is 5160.", [], "sub", time.time())
    )
    try:
        LinkStore(chroma_client).summaries(USER)
    except Exception as exc:  # noqa: BLE001 - the type and the message are what is checked
        assert type(exc).__name__ == "ConfigurationError" and "cipher" in str(exc)
    else:
        raise AssertionError("a sealed record was read without the cipher")
