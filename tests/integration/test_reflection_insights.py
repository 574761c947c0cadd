"""Reflection that reflects: recurring topics, the mood trend and changes, stored as the companion's own insights.

Real Chroma, real Redis and the real embedder, with planted messages and an injected clock; only the chat model is
faked (``fake_chat_model`` from conftest).
"""

import json
from datetime import date
from typing import Any

import pytest
from chromadb.api import ClientAPI
from langgraph.checkpoint.memory import InMemorySaver
from redis.asyncio import Redis

from companion.core.errors import InvalidInputError
from graphs.conversation import build_graph as build_conversation
from graphs.conversation import run_turn
from graphs.reflection import archive_store, build_graph, run_reflection
from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.outreach import OutreachStore
from memory.records import MemoryKind, MemoryRecord
from memory.reflection_log import ReflectionLog
from memory.sensitivity import Sensitivity
from memory.short_term import ShortTermStore
from tests.conftest import fake_chat_model
from tools.reflection import INSIGHT_CATEGORY, insight_id
from tools.sensitivity import extract_tags

DAY = 86_400.0
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
USER = "insight-user"
#: A week of messages that go from sad to happy, one day at a time (emotion, intensity).
SAD_TO_HAPPY = [("sadness", 80), ("sadness", 40), ("neutral", 0), ("happiness", 40), ("happiness", 80)]


class World:
    """The stores a reflection run uses, plus a helper to plant messages as a chat turn stores them."""

    def __init__(
        self, chroma: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
    ) -> None:
        self.long_term, self.short_term, self.embedder = long_term, short_term, embedder
        self.log = ReflectionLog(chroma)
        self.outreach = OutreachStore(redis)
        self.counter = 0

    def plant(
        self,
        text: str,
        *,
        at: float,
        emotion: str = "neutral",
        intensity: int = 0,
        sensitivity: Sensitivity = Sensitivity.GENERAL,
        appraisal: str = "",
        **more: Any,
    ) -> MemoryRecord:
        self.counter += 1
        record = MemoryRecord(
            id=f"m{self.counter:04d}",
            user_id=USER,
            text=text,
            created_at=at,
            conversation_id="default",
            emotion=emotion,
            emotion_intensity=intensity,
            sensitivity=sensitivity,
            tags=extract_tags(text),
            appraisal=appraisal,
            utterance="statement",
            **more,
        )
        self.long_term.add(USER, [record], self.embedder.embed([text]))
        return record

    def graph(self, chat_model: Any = None) -> Any:
        return build_graph(
            long_term=self.long_term,
            archive=archive_store(self.long_term),
            short_term=self.short_term,
            log=self.log,
            embedder=self.embedder,
            chat_model=chat_model,
            outreach=self.outreach,
        )

    def insights(self) -> list[MemoryRecord]:
        return self.long_term.in_category(USER, INSIGHT_CATEGORY)

    async def reflect(self, now: float, chat_model: Any = None) -> dict[str, Any]:
        state = await run_reflection(self.graph(chat_model), user_id=USER, now=now, tasks=["insights"])
        return dict(state["insights"])


@pytest.fixture
def world(
    chroma_client: ClientAPI, long_term: LongTermStore, short_term: ShortTermStore, embedder: Embedder, redis: Redis
) -> World:
    return World(chroma_client, long_term, short_term, embedder, redis)


def plant_sad_to_happy_week(world: World) -> None:
    """Five days, two messages a day, the mood rising from sad to happy."""
    for day, (emotion, intensity) in enumerate(SAD_TO_HAPPY):
        world.plant(f"Practised guitar for an hour on day {day}", at=T0 + day * DAY + 9 * 3600)
        world.plant(
            f"Talked with Noor about the move, day {day}",
            at=T0 + day * DAY + 20 * 3600,
            emotion=emotion,
            intensity=intensity,
        )


# -- mood trend --------------------------------------------------------------------------------------------------
async def test_a_user_going_from_sad_to_happy_over_five_days_gets_an_improving_trend(world: World) -> None:
    for day, (emotion, intensity) in enumerate(SAD_TO_HAPPY):
        for hour in (10, 18):
            world.plant(
                f"Some thoughts at {hour}h on day {day}",
                at=T0 + day * DAY + hour * 3600,
                emotion=emotion,
                intensity=intensity,
            )

    report = await world.reflect(T0 + 4 * DAY + 22 * 3600)

    mood = report["findings"]["mood"]
    assert mood["direction"] == "improving"
    assert [d["mood"] for d in mood["days"]] == [-0.8, -0.4, 0.0, 0.4, 0.8]
    assert mood["slope_per_day"] == 0.4 and mood["change"] == 1.6 and mood["mean"] == 0.0
    [stored] = [m for m in world.insights() if m.id == insight_id(USER, date(2026, 1, 5), "mood")]
    assert "improving" in stored.text and "-0.80 on 2026-01-01 (mostly sadness)" in stored.text
    assert stored.kind is MemoryKind.SEMANTIC and stored.utterance == "observation"
    assert stored.text.startswith("I noticed")  # the companion's words, never the user's


async def test_a_user_whose_mood_stays_level_is_steady_and_one_going_down_is_worsening(world: World) -> None:
    for day in range(5):
        world.plant(f"An ordinary day, number {day}", at=T0 + day * DAY, emotion="happiness", intensity=30 + day % 2)
    steady = await world.reflect(T0 + 4 * DAY + 3600)
    assert steady["findings"]["mood"]["direction"] == "steady"

    for day in range(5, 10):
        world.plant(f"A harder day, number {day}", at=T0 + day * DAY, emotion="sadness", intensity=20 * (day - 4))
    worsening = await world.reflect(T0 + 9 * DAY + 3600)
    assert worsening["findings"]["mood"]["direction"] == "worsening"


# -- recurring topics ----------------------------------------------------------------------------------------------
async def test_a_topic_on_four_different_days_is_recurring_and_one_mentioned_once_is_not(world: World) -> None:
    for day in range(4):
        world.plant(f"Played the cello again this evening ({day})", at=T0 + day * DAY)
    world.plant("I ran a marathon once", at=T0 + 4 * DAY)
    world.plant("Four times the cello, twice in one day", at=T0 + 3 * DAY + 3600)  # same day: still 4 days

    report = await world.reflect(T0 + 5 * DAY)

    topics = {t["topic"]: t for t in report["findings"]["recurring_topics"]}
    assert topics["cello"]["days"] == 4 and topics["cello"]["mentions"] == 5
    assert "marathon" not in topics
    [stored] = [m for m in world.insights() if m.id.startswith("ins-topics-")]
    assert "cello (4 days)" in stored.text and "marathon" not in stored.text


async def test_fewer_than_five_messages_say_nothing(world: World) -> None:
    for day in range(4):
        world.plant(f"Played the cello again ({day})", at=T0 + day * DAY)
    report = await world.reflect(T0 + 4 * DAY)
    assert report["insights"] == [] and world.insights() == []
    assert "at least 5 messages" in report["report"]


# -- changes -------------------------------------------------------------------------------------------------------
async def test_a_new_topic_a_dropped_one_and_an_updated_fact_are_changes(world: World) -> None:
    for day in range(2):  # the week before: football
        world.plant(f"Football practice with the team ({day})", at=T0 + day * DAY)
    old = world.plant("I work at Acme", at=T0 + 2 * DAY)
    for day in range(7, 12):  # this week: pottery, and a new job
        world.plant(f"Went to the pottery class ({day})", at=T0 + day * DAY)
    new = world.plant("I work at Globex now", at=T0 + 9 * DAY + 3600, supersedes=old.id)
    world.long_term.mark_superseded(USER, [old.id], by=new.id)

    report = await world.reflect(T0 + 13 * DAY + 3600)

    changes = report["findings"]["changes"]
    assert "pottery" in [t["topic"] for t in changes["new_topics"]]
    assert "football" in [t["topic"] for t in changes["gone_topics"]]
    assert [(u["old_id"], u["new_id"]) for u in changes["updated_facts"]] == [(old.id, new.id)]
    [stored] = [m for m in world.insights() if m.id.startswith("ins-changes-")]
    assert "pottery" in stored.text and "football" in stored.text
    assert "\u201cI work at Acme\u201d became \u201cI work at Globex now\u201d" in stored.text


# -- sensitivity -----------------------------------------------------------------------------------------------
async def test_secret_and_crisis_messages_never_reach_an_insight_or_the_report(world: World) -> None:
    plant_sad_to_happy_week(world)
    for day in range(4):  # would be a recurring topic on 4 days, were it read
        world.plant(
            f"I never told anyone about the zanzibar debts ({day})",
            at=T0 + day * DAY + 3600,
            sensitivity=Sensitivity.SECRET,
            emotion="anxiety",
            intensity=90,
        )
        world.plant(
            f"My pin for the quokka vault is 48{day}1", at=T0 + day * DAY + 7200, sensitivity=Sensitivity.ULTRASECRET
        )
    for day in range(3):  # a crisis, by its words and by what perception journaled
        world.plant(
            f"I want to kill myself, the viaduct again ({day})",
            at=T0 + day * DAY + 4 * 3600,
            sensitivity=Sensitivity.CONFIDENTIAL,
            emotion="sadness",
            intensity=95,
        )
        journal = json.dumps(
            {
                "at": 0,
                "persona": "default",
                "emotion": "fear",
                "intensity": 90,
                "emotions": {},
                "category": "problem",
                "crisis": "abuse",
            }
        )
        world.plant(
            f"He came home angry, the lighthouse again ({day})",
            at=T0 + day * DAY + 5 * 3600,
            appraisal=journal,
            sensitivity=Sensitivity.CONFIDENTIAL,
        )

    report = await world.reflect(T0 + 4 * DAY + 22 * 3600)

    assert report["findings"]["excluded"] == {"sealed": 8, "crisis": 6}
    written = [m.text for m in world.insights()]
    assert written and report["insights"]
    logged = json.dumps([entry.data for entry in world.log.entries(USER, type="insights")])
    for shown in (*written, report["report"], json.dumps(report), logged):
        for word in ("zanzibar", "debts", "quokka", "vault", "viaduct", "kill", "lighthouse", "angry"):
            assert word not in shown.lower()
    # the crisis and the secrets weigh nothing in the mood either: it is the planted week's, sad to happy
    assert [d["mood"] for d in report["findings"]["mood"]["days"]] == [-0.4, -0.2, 0.0, 0.2, 0.4]


async def test_an_insight_is_as_sensitive_as_the_messages_it_draws_on(world: World) -> None:
    for day in range(5):
        world.plant(
            f"Saw the doctor about my knee again ({day})", at=T0 + day * DAY, sensitivity=Sensitivity.CONFIDENTIAL
        )
    await world.reflect(T0 + 4 * DAY + 3600)
    levels = {m.id.split("-")[1]: m.sensitivity for m in world.insights()}
    assert levels["topics"] is Sensitivity.CONFIDENTIAL and levels["mood"] is Sensitivity.CONFIDENTIAL


# -- idempotence, days, history ----------------------------------------------------------------------------------
async def test_running_twice_the_same_day_rewrites_the_same_insights_and_the_next_day_supersedes_them(
    world: World,
) -> None:
    plant_sad_to_happy_week(world)
    first = await world.reflect(T0 + 4 * DAY + 21 * 3600)
    second = await world.reflect(T0 + 4 * DAY + 23 * 3600)  # the same day, later

    assert [i["id"] for i in first["insights"]] == [i["id"] for i in second["insights"]]
    assert {i["kind"] for i in first["insights"]} == {"topics", "mood"}
    assert len(world.insights()) == 2
    assert [entry.id for entry in world.log.entries(USER, type="insights")] == ["insights:2026-01-05"]

    world.plant("Practised guitar for an hour on day 5", at=T0 + 5 * DAY + 9 * 3600)
    third = await world.reflect(T0 + 5 * DAY + 21 * 3600)

    assert len(world.insights()) == 4
    assert sorted(third["superseded"]) == sorted(i["id"] for i in first["insights"])
    current = {m.id: m.superseded_by for m in world.insights()}
    assert all(current[i["id"]] for i in first["insights"]) and not any(current[i["id"]] for i in third["insights"])
    assert [entry.id for entry in world.log.entries(USER, type="insights")] == [
        "insights:2026-01-05",
        "insights:2026-01-06",
    ]


async def test_days_are_the_users_local_days(world: World) -> None:
    await world.outreach.set_prefs(USER, timezone="Asia/Tokyo")
    plant_sad_to_happy_week(world)
    report = await world.reflect(T0 + 4 * DAY + 20 * 3600)  # 20:00 UTC is 05:00 the next day in Tokyo
    assert report["timezone"] == "Asia/Tokyo" and report["day"] == "2026-01-06"
    # the evening messages (20:00 UTC) fall on the next Tokyo day: six days with messages, not five
    assert report["findings"]["days_with_messages"] == 6


async def test_an_unknown_task_is_refused_with_one_line_naming_the_choices(world: World) -> None:
    with pytest.raises(InvalidInputError, match="unknown reflection task.*insight.*choose from.*insights"):
        await run_reflection(world.graph(), user_id=USER, tasks=["insight"])


# -- with a chat model --------------------------------------------------------------------------------------------
async def test_with_a_chat_model_the_report_is_worded_by_it_and_the_insights_stay_local(world: World) -> None:
    plant_sad_to_happy_week(world)
    model = fake_chat_model("You kept playing guitar, and your week got brighter day by day.")
    report = await world.reflect(T0 + 4 * DAY + 22 * 3600, chat_model=model)
    assert report["reporter"] == "llm"
    assert report["report"] == "You kept playing guitar, and your week got brighter day by day."
    assert all(i["text"].startswith("I noticed") for i in report["insights"])


# -- the reply draws on them, as the companion's own observations ------------------------------------------------
async def test_recall_finds_an_insight_and_the_offline_reply_never_says_the_user_said_it(world: World) -> None:
    plant_sad_to_happy_week(world)
    await world.reflect(T0 + 4 * DAY + 22 * 3600)
    conversation = build_conversation(
        long_term=world.long_term, short_term=world.short_term, embedder=world.embedder, checkpointer=InMemorySaver()
    )

    state = await run_turn(conversation, user_id=USER, message="How has my mood been this week?")

    recalled = {m["id"]: m for m in state["memories"]}
    mood_id = insight_id(USER, date(2026, 1, 5), "mood")
    assert mood_id in recalled and recalled[mood_id]["utterance"] == "observation"
    reply = state["reply"]
    assert "I noticed that over the 7 days" in reply
    told = reply.split("You told me:", 1)[1] if "You told me:" in reply else ""
    assert "I noticed" not in told.split("And something I noticed myself")[0]
