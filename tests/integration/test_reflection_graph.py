"""The reflection graph over real Chroma, real Redis and the real embedder, on planted facts, with an injected clock.

Only the chat model is faked (``FakeChatModel`` from conftest).
"""

import json
from pathlib import Path
from typing import Any

import pytest
from chromadb.api import ClientAPI

from companion.core.errors import ConflictError, InvalidInputError
from graphs.reflection import archive_store, build_graph, run_reflection
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.records import MemoryKind, MemoryRecord, Turn
from memory.reflection_log import ReflectionLog
from memory.short_term import ShortTermStore
from tests.conftest import fake_chat_model
from tests.integration.memory_helpers import contained_pairs
from tools.reflection import most_central
from tools.reflection_actions import pending_questions, restore_memory, undo_conflict

DAY = 86_400.0
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
USER = "reflect-user"

RUNS = [
    "I went running in the park this morning",
    "This morning I went for a run in the park",
    "I ran in the park again today before work",
    "Went for my usual morning run in the park",
]
OTHERS = ["What's the weather like?", "I had pasta for dinner", "My sister is visiting next week"]
LOCOMO_TURNS = Path(__file__).resolve().parents[1] / "fixtures" / "locomo_turns_1000.jsonl"


class World:
    """The stores a reflection run uses, plus helpers to plant memories."""

    def __init__(self, chroma: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder):
        self.long_term, self.short_term, self.embedder = long_term, short_term, embedder
        self.archive = archive_store(long_term)
        self.log = ReflectionLog(chroma)
        self.counter = 0

    def plant(self, text: str, *, at: float, importance: int = 500, user: str = USER) -> MemoryRecord:
        self.counter += 1
        record = MemoryRecord(id=f"m{self.counter:04d}", user_id=user, text=text, importance=importance, created_at=at)
        self.long_term.add(user, [record], self.embedder.embed([text]))
        return record

    def graph(self, chat_model: Any = None) -> Any:
        return build_graph(
            long_term=self.long_term,
            archive=self.archive,
            short_term=self.short_term,
            log=self.log,
            embedder=self.embedder,
            chat_model=chat_model,
        )


@pytest.fixture
def world(chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder) -> World:
    return World(chroma_client, long_term, short_term, embedder)


# -- consolidation ---------------------------------------------------------------------------------------------
async def test_a_cluster_of_similar_episodes_becomes_one_semantic_memory_and_sources_stay(world: World) -> None:
    sources = [world.plant(text, at=T0 + i * DAY) for i, text in enumerate(RUNS)]
    for i, text in enumerate(OTHERS):
        world.plant(text, at=T0 + i * DAY + 3600)

    state = await run_reflection(world.graph(), user_id=USER, now=T0 + 5 * DAY, tasks=["consolidate"])

    assert len(state["consolidations"]) == 1
    made = state["consolidations"][0]
    assert sorted(made["source_ids"]) == sorted(r.id for r in sources)
    # offline, the most central run becomes the semantic memory: no new text, so nothing repeats the runs' words
    assert made["summariser"] == "promoted" and made["semantic_id"] in made["source_ids"]
    semantic = world.long_term.get(USER, made["semantic_id"])
    assert semantic is not None and semantic.kind is MemoryKind.SEMANTIC and semantic.text in RUNS
    assert semantic.text == made["text"] and semantic.consolidated_into == ""
    assert semantic.importance == 650  # 500 × 1.3  # the seed's consolidation boost
    assert world.long_term.count(USER) == len(RUNS) + len(OTHERS)  # nothing added, nothing deleted
    for source in sources:
        stored = world.long_term.get(USER, source.id)
        assert stored is not None
        if source.id != semantic.id:
            assert stored.kind is MemoryKind.EPISODIC and stored.consolidated_into == made["semantic_id"]
    provenance = world.log.entries(USER, type="consolidation")
    assert [entry.data["source_ids"] for entry in provenance] == [made["source_ids"]]

    again = await run_reflection(world.graph(), user_id=USER, now=T0 + 6 * DAY, tasks=["consolidate"])
    assert again["consolidations"] == []
    assert world.long_term.count(USER) == len(RUNS) + len(OTHERS)


async def test_a_promoted_gist_keeps_its_own_importance_when_that_is_higher(world: World) -> None:
    # the boost never lowers a memory: the central run at 800 among runs at 300 keeps its 800
    central = RUNS[most_central(world.embedder.embed(RUNS))]
    for i, text in enumerate(RUNS):
        world.plant(text, at=T0 + i * DAY, importance=800 if text == central else 300)
    state = await run_reflection(world.graph(), user_id=USER, now=T0 + 5 * DAY, tasks=["consolidate"])
    made = state["consolidations"][0]
    assert made["text"] == central and made["importance"] == 800  # not mean 425 × 1.3 = 552


async def test_offline_consolidation_keeps_one_copy_of_every_memory(world: World) -> None:
    # 400 LoCoMo turns as one user's memories, the nightly consolidation without a chat model: no memory may end up
    # holding another's words (the cluster's gist is one of its memories, not a new text made of them)
    lines = LOCOMO_TURNS.read_text(encoding="utf-8").splitlines()[:400]
    texts = [json.loads(line)["text"] for line in lines]
    records = [
        MemoryRecord(id=f"l{i:04d}", user_id=USER, text=text, importance=500, created_at=T0 + i * 600)
        for i, text in enumerate(texts)
    ]
    world.long_term.add(USER, records, world.embedder.embed(texts))

    state = await run_reflection(world.graph(), user_id=USER, now=T0 + 30 * DAY, tasks=["consolidate"])

    assert state["consolidations"], "nothing was consolidated: the check below would prove little"
    memories = world.long_term.list_memories(USER, limit=1000)
    assert len(memories) == len(texts)
    contained = contained_pairs(memories)
    assert contained == [], contained[:3]


async def test_two_similar_episodes_are_not_enough_to_consolidate(world: World) -> None:
    for i, text in enumerate(RUNS[:2]):
        world.plant(text, at=T0 + i * DAY)
    state = await run_reflection(world.graph(), user_id=USER, now=T0 + 3 * DAY, tasks=["consolidate"])
    assert state["consolidations"] == []


async def test_with_a_chat_model_the_summary_is_the_models_sentence(world: World) -> None:
    for i, text in enumerate(RUNS[:3]):
        world.plant(text, at=T0 + i * DAY)
    model = fake_chat_model("The user runs in the park most mornings.")
    state = await run_reflection(world.graph(model), user_id=USER, now=T0 + 4 * DAY, tasks=["consolidate"])
    made = state["consolidations"][0]
    assert made["summariser"] == "llm" and made["text"] == "The user runs in the park most mornings."


# -- conflicts -------------------------------------------------------------------------------------------------
async def test_a_newer_contradicting_fact_lowers_the_older_one_by_temporal_precedence(world: World) -> None:
    older = world.plant("My favourite colour is blue", at=T0)
    newer = world.plant("My favourite colour is green", at=T0 + 10 * DAY)
    world.plant("I went running in the park this morning", at=T0 + 10 * DAY)

    state = await run_reflection(world.graph(), user_id=USER, now=T0 + 11 * DAY, tasks=["conflicts"])

    assert len(state["conflicts"]) == 1
    conflict = state["conflicts"][0]
    assert conflict["strategy"] == "temporal_precedence" and conflict["rule"] == "slot"
    assert conflict["loser_id"] == older.id and conflict["status"] == "resolved"
    assert world.long_term.get(USER, older.id).importance == 350  # 500 × 0.7  # type: ignore[union-attr]
    assert world.long_term.get(USER, newer.id).importance == 500  # type: ignore[union-attr]

    # recorded and reversible
    undone = undo_conflict(world.long_term, world.log, USER, conflict["id"], now=T0 + 12 * DAY)
    assert undone["status"] == "reverted"
    assert world.long_term.get(USER, older.id).importance == 500  # type: ignore[union-attr]
    again = await run_reflection(world.graph(), user_id=USER, now=T0 + 13 * DAY, tasks=["conflicts"])
    assert again["conflicts"] == []  # a reverted pair is not judged again
    with pytest.raises(ConflictError, match="already reverted"):
        undo_conflict(world.long_term, world.log, USER, conflict["id"], now=T0 + 14 * DAY)


async def test_same_day_contradiction_lowers_the_less_important_memory_by_half(world: World) -> None:
    loved = world.plant("I love jazz", at=T0, importance=800)
    hated = world.plant("I hate jazz", at=T0 + 600, importance=400)
    state = await run_reflection(world.graph(), user_id=USER, now=T0 + DAY, tasks=["conflicts"])
    [conflict] = state["conflicts"]
    assert conflict["strategy"] == "confidence_based" and conflict["conflict_type"] == "preference_conflict"
    assert conflict["loser_id"] == hated.id
    assert world.long_term.get(USER, hated.id).importance == 200  # 400 × 0.5  # type: ignore[union-attr]
    assert world.long_term.get(USER, loved.id).importance == 800  # type: ignore[union-attr]


async def test_an_undecidable_contradiction_queues_a_question_for_the_user(world: World) -> None:
    world.plant("I love jazz", at=T0)
    world.plant("I hate jazz", at=T0 + 600)
    state = await run_reflection(world.graph(), user_id=USER, now=T0 + DAY, tasks=["conflicts"])
    [conflict] = state["conflicts"]
    assert conflict["strategy"] == "user_clarification" and conflict["status"] == "awaiting_user"
    [question] = pending_questions(world.log, USER)
    assert "I love jazz" in question["question"] and "I hate jazz" in question["question"]
    assert all(world.long_term.get(USER, i).importance == 500 for i in question["memory_ids"])  # type: ignore[union-attr]


async def test_similar_statements_that_agree_are_not_conflicts(world: World) -> None:
    for i, text in enumerate(RUNS):
        world.plant(text, at=T0 + i * DAY)
    world.plant("I live in Berlin now", at=T0)
    world.plant("I moved to Berlin last month", at=T0 + DAY)
    state = await run_reflection(world.graph(), user_id=USER, now=T0 + 5 * DAY, tasks=["conflicts"])
    assert state["conflicts"] == []


async def test_the_chat_model_judges_conflicts_when_configured(world: World) -> None:
    world.plant("I went running in the park this morning", at=T0)
    world.plant("This morning I went for a run in the park", at=T0 + 3 * DAY)
    verdict = '{"has_conflict": true, "conflict_type": "timeline_inconsistency", "description": "two mornings", '
    model = fake_chat_model(verdict + '"confidence": 0.9}')
    state = await run_reflection(world.graph(model), user_id=USER, now=T0 + 4 * DAY, tasks=["conflicts"])
    [conflict] = state["conflicts"]
    assert conflict["rule"] == "llm" and conflict["conflict_type"] == "timeline_inconsistency"
    assert conflict["strategy"] == "temporal_precedence"


# -- forgetting ------------------------------------------------------------------------------------------------
async def test_old_unimportant_never_recalled_memories_fade_into_the_archive_and_can_be_restored(
    world: World,
) -> None:
    trivial = world.plant("What's the weather like?", at=T0, importance=200)
    important = world.plant("My sister is visiting next week", at=T0, importance=900)
    recalled = world.plant("I had pasta for dinner", at=T0, importance=200)
    fresh = world.plant("I went running in the park this morning", at=T0 + 89 * DAY, importance=200)
    # a turn 80 days in recalls it (what the conversation graph's store_short_term records)
    await world.short_term.record_turn(
        USER, "c", [Turn("user", "pasta?", T0 + 80 * DAY)], now=T0 + 80 * DAY, ttl=60, recalled=[recalled.id]
    )

    state = await run_reflection(world.graph(), user_id=USER, now=T0 + 90 * DAY, tasks=["forget"])

    report = state["forgetting"]
    assert report["archived"] == [trivial.id]
    assert report["strengthened"] == 1
    assert world.long_term.get(USER, trivial.id) is None
    assert world.archive.get(USER, trivial.id) is not None  # archived, not deleted
    kept = world.long_term.get(USER, important.id)
    assert kept is not None and 0.05 < kept.retention < 0.2  # faded weight, but important: kept
    strengthened = world.long_term.get(USER, recalled.id)
    assert strengthened is not None and strengthened.recall_count == 1 and strengthened.retention > 0.5
    assert world.long_term.get(USER, fresh.id).retention > 0.9  # type: ignore[union-attr]
    assert await world.short_term.recalls(USER) == {}

    restored = restore_memory(world.long_term, world.archive, world.log, USER, trivial.id, now=T0 + 91 * DAY)
    assert restored["status"] == "restored"
    back = world.long_term.get(USER, trivial.id)
    assert back is not None and back.retention == 1.0
    assert world.archive.get(USER, trivial.id) is None
    [entry] = world.log.entries(USER, type="archive")
    assert entry.status == "restored"
    with pytest.raises(ConflictError, match="not archived"):
        restore_memory(world.long_term, world.archive, world.log, USER, trivial.id, now=T0 + 92 * DAY)


async def test_a_recalled_memory_is_found_by_search_and_faded_ones_weigh_less(world: World) -> None:
    old = world.plant("I adopted a cat named Miso", at=T0, importance=600)
    await run_reflection(world.graph(), user_id=USER, now=T0 + 60 * DAY, tasks=["forget"])
    [candidate] = world.long_term.search(USER, world.embedder.embed(["my cat"])[0], 1)
    stored = world.long_term.get(USER, old.id)
    assert stored is not None and candidate.importance == pytest.approx(0.6 * stored.retention)
    assert stored.retention < 0.5


async def test_unknown_task_is_a_one_line_error(world: World) -> None:
    with pytest.raises(InvalidInputError, match="unknown reflection task"):
        await run_reflection(world.graph(), user_id=USER, tasks=["dream"])


async def test_questions_are_never_consolidated_into_a_semantic_memory(world: World) -> None:
    questions = [
        "Did I go running in the park this morning?",
        "Did I go for a run in the park this morning?",
        "Did I run in the park today before work?",
        "Did I go for my usual morning run in the park?",
    ]
    for i, text in enumerate(questions):
        world.plant(text, at=T0 + i * DAY)

    state = await run_reflection(world.graph(), user_id=USER, now=T0 + 5 * DAY, tasks=["consolidate"])

    assert state["consolidations"] == []
    assert world.long_term.count(USER) == len(questions)
