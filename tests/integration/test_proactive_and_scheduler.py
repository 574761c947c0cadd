"""The proactive graph and the scheduler over real Redis, real Chroma and the real embedder, with an injected clock.

Messages are written the way the conversation graph writes them (Chroma record + Redis turn) but with the test's
clock, so weeks of a user's life run in seconds. Only the chat model is faked.
"""

import asyncio
import json
from typing import Any

import pytest
from chromadb.api import ClientAPI
from redis.asyncio import Redis

from companion.core.errors import InvalidInputError
from companion.core.personality.persona import load_persona
from companion.core.personality.state import PersonalityState, apply_interaction, new_state
from companion.runtime.scheduler import JobRunner, done_key
from graphs import proactive as proactive_graph
from graphs import reflection as reflection_graph
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.outreach import OutreachStore
from memory.personality_store import PersonalityStore
from memory.records import MemoryRecord, Turn
from memory.reflection_log import ReflectionLog
from memory.short_term import ShortTermStore
from nodes.reflection import NIGHTLY_TASKS
from tests.conftest import fake_chat_model
from tools.detection import load_detector
from tools.personality_time import advance_personality, personality_reader

DAY, HOUR, MINUTE = 86_400.0, 3600.0, 60.0
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


class Life:
    """One simulated world: real stores, the two graphs, and a way to send messages at a given time."""

    def __init__(
        self, chroma: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
    ):
        self.long_term, self.short_term, self.embedder, self.redis = long_term, short_term, embedder, redis
        self.outreach = OutreachStore(redis)
        self.log = ReflectionLog(chroma)
        self.archive = reflection_graph.archive_store(long_term)
        self.personality_store = PersonalityStore(chroma, redis)
        self.counter = 0

    async def say(self, user_id: str, text: str, at: float) -> MemoryRecord:
        """What a conversation turn writes, at time ``at``: perception (the real detector), the message in Chroma,
        the personality engine's interaction step (saved like the conversation graph saves it), the turn in Redis.
        """
        self.counter += 1
        vector = self.embedder.embed([text])
        found = load_detector().detect(text, vector[0])
        record = MemoryRecord(
            id=f"msg{self.counter:05d}",
            user_id=user_id,
            text=text,
            importance=found.importance,
            category=found.category,
            emotion=found.emotion,
            emotion_intensity=found.intensity,
            created_at=at,
        )
        self.long_term.add(user_id, [record], vector)
        persona = load_persona("default")
        data, _ = await self.personality_store.load(user_id, persona.key)
        state = PersonalityState.from_dict(data) if data else new_state(user_id, persona, at)
        result = apply_interaction(
            state,
            message=text,
            emotion=found.emotion,
            intensity=found.intensity,
            emotions=found.emotions,
            category=found.category,
            now=at,
        )
        await self.personality_store.save(user_id, persona.key, result.state.to_dict())
        await self.short_term.record_turn(user_id, "default", [Turn("user", text, at)], now=at, ttl=3600)
        return record

    def reflection(self, chat_model: Any = None) -> Any:
        return reflection_graph.build_graph(
            long_term=self.long_term,
            archive=self.archive,
            short_term=self.short_term,
            log=self.log,
            embedder=self.embedder,
            chat_model=chat_model,
        )

    def proactive(self, chat_model: Any = None, personality: Any = None) -> Any:
        return proactive_graph.build_graph(
            long_term=self.long_term,
            short_term=self.short_term,
            outreach=self.outreach,
            embedder=self.embedder,
            chat_model=chat_model,
            personality=personality_reader(self.personality_store) if personality else None,
        )

    def runner(self, personality: bool = True) -> JobRunner:
        reflection, proactive = self.reflection(), self.proactive(personality=personality)

        async def reflect(user_id: str, now: float) -> dict[str, Any]:
            return await reflection_graph.run_reflection(
                reflection, user_id=user_id, now=now, tasks=list(NIGHTLY_TASKS)
            )

        async def forget(user_id: str, now: float) -> dict[str, Any]:
            return await reflection_graph.run_reflection(reflection, user_id=user_id, now=now, tasks=["forget"])

        async def reach_out(user_ids: list[str], now: float) -> list[dict[str, Any]]:
            return await proactive_graph.run_proactive_pass(proactive, user_ids, now=now)

        async def needs(user_id: str, now: float) -> dict[str, Any]:
            return await advance_personality(self.personality_store, user_id, "default", now)

        return JobRunner(
            redis=self.redis,
            short_term=self.short_term,
            outreach=self.outreach,
            reflect=reflect,
            forget=forget,
            proactive=reach_out,
            needs=needs,
        )


@pytest.fixture
def life(
    chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> Life:
    return Life(chroma_client, long_term, short_term, embedder, redis)


# -- proactive guardrails and reasons --------------------------------------------------------------------------
async def test_opted_out_and_quiet_hours_block_before_any_scoring(life: Life) -> None:
    await life.say("ana", "I love hiking in the mountains", T0 + 18 * HOUR)
    graph = life.proactive()
    await life.outreach.set_prefs("ana", timezone="Europe/Paris", opt_out=True)
    state = await proactive_graph.run_proactive(graph, user_id="ana", now=T0 + 2 * DAY + 12 * HOUR)
    assert state["decision"] == "blocked" and state["blocked"] == "opted out" and "score" not in state
    await life.outreach.set_prefs("ana", opt_out=False)
    state = await proactive_graph.run_proactive(graph, user_id="ana", now=T0 + 2 * DAY + 22 * HOUR)  # 23:00 Paris
    assert state["decision"] == "blocked" and "quiet hours" in state["blocked"]
    state = await proactive_graph.run_proactive(graph, user_id="ana", now=T0 + 2 * DAY + 12 * HOUR)
    assert state["decision"] in {"below_threshold", "sent"} and "score" in state
    assert state["reasons"]["messages_30d"] == 1


async def test_without_a_personality_engine_needs_are_zero_and_the_reason_says_so(life: Life) -> None:
    for day in range(5):
        await life.say("ben", f"Evening chat number {day}", T0 + day * DAY + 19 * HOUR)
    state = await proactive_graph.run_proactive(
        life.proactive(personality=False), user_id="ben", now=T0 + 7 * DAY + 19 * HOUR, dry_run=True
    )
    assert state["score"]["need"] == 0.0 and state["reasons"]["personality"] == "not available"
    assert state["score"]["timing"] == pytest.approx(1.0)  # the hour and weekday of every message
    assert state["score"]["personality_factor"] == 1.0
    assert await life.outreach.outbox() == []


async def test_bad_time_zone_is_a_one_line_error(life: Life) -> None:
    with pytest.raises(InvalidInputError, match="unknown time zone"):
        await life.outreach.set_prefs("ana", timezone="Mars/Olympus")
    with pytest.raises(InvalidInputError, match="quiet hours"):
        await life.outreach.set_prefs("ana", quiet_hours=(22, 25))


# -- scheduler -------------------------------------------------------------------------------------------------
async def test_nightly_reflection_runs_once_per_local_night_even_with_two_schedulers(life: Life) -> None:
    runs = [
        "I went running in the park this morning",
        "This morning I went for a run in the park",
        "I ran in the park again today before work",
    ]
    for day, text in enumerate(runs):
        await life.say("cleo", text, T0 + day * DAY + 7 * HOUR)
    await life.outreach.set_prefs("cleo", timezone="America/New_York")  # 03:00 there is 08:00 UTC
    first, second = life.runner(), life.runner()

    before = T0 + 3 * DAY + 7 * HOUR + 30 * MINUTE  # 02:30 in New York: nothing due yet
    reports = await asyncio.gather(first.due(before), second.due(before))
    assert all("reflection" not in r.ran for r in reports)

    night = T0 + 3 * DAY + 8 * HOUR + 5 * MINUTE  # 03:05 in New York, both schedulers fire at once
    reports = await asyncio.gather(first.due(night), second.due(night))
    ran = [r.ran.get("reflection", []) for r in reports]
    assert sorted(len(users) for users in ran) == [0, 1]  # exactly one ran it
    assert len(life.log.entries("cleo", type="consolidation")) == 1
    assert (await life.redis.get(done_key("reflection", "cleo"))) == b"2026-01-04"

    later = night + 2 * HOUR  # 05:05: forgetting due (from 04:00), reflection already done tonight
    report = await first.due(later)
    assert report.ran == {"forgetting": ["cleo"]}
    assert (await first.due(later + 10 * MINUTE)).ran == {}


async def test_a_reflection_that_died_is_picked_up_by_the_next_firing_without_duplicates(life: Life) -> None:
    for day, text in enumerate(["I love green tea", "Green tea is my favourite drink", "I had green tea again"]):
        await life.say("dan", text, T0 + day * DAY + 9 * HOUR)
    runner = life.runner()
    real_reflect = runner.jobs["reflection"][1]
    calls = 0

    async def dies_once(user_id: str, now: float) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        result = await real_reflect(user_id, now)  # the work is done...
        if calls == 1:
            raise InvalidInputError("simulated crash before the completion mark")  # ...but the run dies
        return result

    runner.jobs["reflection"] = (3, dies_once)
    night = T0 + 3 * DAY + 3 * HOUR + 5 * MINUTE
    assert (await runner.due(night)).failed == {"reflection": ["dan"]}
    assert (await runner.due(night + 5 * MINUTE)).ran.get("reflection") == ["dan"]
    assert calls == 2
    consolidations = life.log.entries("dan", type="consolidation")
    assert len(consolidations) <= 1
    semantic = [r for r in life.long_term.list_memories("dan", limit=100) if r.kind.value == "semantic"]
    assert len(semantic) == len(consolidations)  # the re-run wrote nothing twice


async def test_proactive_pass_runs_once_per_five_minute_slot_across_schedulers(life: Life) -> None:
    await life.say("eve", "Hello there", T0 + 10 * HOUR)
    first, second = life.runner(), life.runner()
    now = T0 + DAY + 12 * HOUR
    reports = await asyncio.gather(first.due(now), second.due(now))
    assert sorted(len(r.proactive) for r in reports) == [0, 1]
    assert (await first.due(now + MINUTE)).proactive == []  # same slot
    assert len((await first.due(now + 5 * MINUTE)).proactive) == 1  # next slot


def test_outbox_entry_format_is_documented(life: Life) -> None:
    import memory.outreach

    doc = memory.outreach.__doc__ or ""
    for field in ("outreach_id", "user_id", "persona", "text", "trigger", "score", "reasons", "created_at"):
        assert f"``{field}``" in doc
    assert json.dumps({"ok": True})
    assert fake_chat_model("x") is not None


async def test_the_apscheduler_loop_fires_the_runner_and_stops_cleanly(life: Life) -> None:
    from companion.runtime.scheduler import run_scheduler

    await life.say("fay", "Hello there", T0)
    runner = life.runner()
    fired = asyncio.Event()
    real_proactive = runner.proactive

    async def proactive(user_ids: list[str], now: float) -> list[dict[str, Any]]:
        result = await real_proactive(user_ids, now)
        fired.set()
        return result

    runner.proactive = proactive
    stop = asyncio.Event()
    loop = asyncio.create_task(run_scheduler(runner, stop=stop, clock=lambda: T0 + DAY + 12 * HOUR))
    await asyncio.wait_for(fired.wait(), timeout=120)  # bounds a hang; the first firing is immediate
    stop.set()
    await asyncio.wait_for(loop, timeout=60)
    assert (await life.redis.get(done_key("reflection", "fay"))) == b"2026-01-02"


async def test_quiet_hours_are_the_users_own_local_hours(life: Life) -> None:
    await life.say("kai", "I love hiking in the mountains", T0 + 10 * HOUR)
    graph = life.proactive()
    afternoon_utc = T0 + 2 * DAY + 14 * HOUR  # 14:00 UTC is 23:00 in Tokyo
    state = await proactive_graph.run_proactive(graph, user_id="kai", now=afternoon_utc, dry_run=True)
    assert state["decision"] != "blocked"  # in UTC (the default) 14:00 is no quiet hour
    await life.outreach.set_prefs("kai", timezone="Asia/Tokyo")
    state = await proactive_graph.run_proactive(graph, user_id="kai", now=afternoon_utc, dry_run=True)
    assert state["decision"] == "blocked" and "quiet hours" in state["blocked"]


async def test_the_chat_model_personalises_the_starter_that_goes_to_the_outbox(life: Life) -> None:
    for day in range(5):  # a habit: every morning at 10:00, then two silent days
        await life.say("pia", f"Good morning! Coffee and the news, day {day}", T0 + day * DAY + 10 * HOUR)
    personalised = "Pia! Two quiet days without you. Coffee and a chat?"
    now = T0 + 7 * DAY + 10 * HOUR
    template = await proactive_graph.run_proactive(
        life.proactive(personality=True), user_id="pia", now=now, dry_run=True
    )
    assert template["decision"] == "would_send", template.get("score")
    assert template["starter_source"] == "template"
    state = await proactive_graph.run_proactive(
        life.proactive(fake_chat_model(personalised), personality=True), user_id="pia", now=now
    )
    assert state["decision"] == "sent" and state["starter_source"] == "llm"
    [entry] = await life.outreach.outbox()
    assert entry["text"] == personalised and entry["user_id"] == "pia"


async def test_a_chat_model_that_fails_the_starter_leaves_the_template_not_a_failed_pass(life: Life) -> None:
    for day in range(5):
        await life.say("pia", f"Good morning! Coffee and the news, day {day}", T0 + day * DAY + 10 * HOUR)
    now = T0 + 7 * DAY + 10 * HOUR
    template = await proactive_graph.run_proactive(
        life.proactive(personality=True), user_id="pia", now=now, dry_run=True
    )
    state = await proactive_graph.run_proactive(
        life.proactive(fake_chat_model(), personality=True),
        user_id="pia",
        now=now,  # no reply: it raises
    )
    assert state["decision"] == "sent" and state["starter_source"] == "template"
    assert state["starter"] == template["starter"]
    [entry] = await life.outreach.outbox()
    assert entry["text"] == template["starter"]
