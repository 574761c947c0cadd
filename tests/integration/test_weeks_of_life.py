"""Two weeks of two users' lives, replayed with an injected clock through the real stores, graphs and scheduler.

Sam (Europe/Paris) chats every evening for ten days, laughing ("haha") in the first three, running and changing
his favourite colour along the way, then falls silent. Olga chats too but has opted out of outreach. The scheduler
fires every hour (its 5-minute cadence changes nothing here but the run time) and its hourly needs job every 6
hours (needs grow by elapsed time, so the cadence changes nothing either). Everything is real except the clock;
no chat model is configured (offline path).
"""

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from companion.core.personality.persona import load_persona
from companion.core.personality.state import PersonalityState
from memory.records import MemoryKind
from tests.integration.test_proactive_and_scheduler import DAY, HOUR, MINUTE, Life, life  # noqa: F401 (fixture)
from tools.proactive import IGNORED_AFTER_HOURS, MAX_PER_DAY, MIN_GAP_HOURS, SILENCE_AFTER_DECLINE_HOURS
from tools.reflection import INSIGHT_CATEGORY

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 1, 5, 0, 0, tzinfo=PARIS).timestamp()  # a Monday, 00:00 in Paris
DAYS = 15
CHAT_DAYS = 10

EVENINGS = [
    "Hi! Long day at work today",
    "I cooked a nice risotto for dinner",
    "Reading a good book before bed",
]
FACTS = {  # day -> extra messages that evening
    0: ["I went running in the park this morning"],
    1: ["My favourite colour is blue", "This morning I went for a run in the park"],
    3: ["I ran in the park again today before work"],
    5: ["Went for my usual morning run in the park"],
    8: ["My favourite colour is green"],
}
HAPPY = "I finished my project and I'm so happy, thank you for cheering me on!"


def evening_messages(user: str, day: int) -> list[str]:
    if user == "olga":
        return [HAPPY]
    messages = [*EVENINGS, *FACTS.get(day, []), HAPPY]
    if day < 3:  # laughs in the first days only: a quirk appears, then fades
        messages.append("haha that was fun")
    return messages


async def live(life: Life, users: list[str]) -> dict[str, Any]:  # noqa: F811
    runner = life.runner()
    persona = load_persona("default")
    for user in users:
        await life.outreach.set_prefs(user, timezone="Europe/Paris")
    await life.outreach.set_prefs("olga", opt_out=True)
    observed: dict[str, Any] = {"quirk_strengths": [], "baseline_start": persona.baseline}
    for hour in range(DAYS * 24):
        now = START + hour * HOUR
        day, local_hour = divmod(hour, 24)
        if day < CHAT_DAYS and local_hour == 19:  # 19:00-19:30 Paris: the evening chat
            for user in users:
                for minute, text in enumerate(evening_messages(user, day)):
                    await life.say(user, text, now + minute * 4 * MINUTE)
        await runner.due(now + 35 * MINUTE)
        if local_hour % 6 == 0:
            await runner.hourly(now + 35 * MINUTE)
        if local_hour == 12:
            data, _ = await life.personality_store.load("sam", persona.key)
            quirks = {q["name"]: q for q in (data or {}).get("quirks", [])}
            laugh = quirks.get("laughs_in_text")
            observed["quirk_strengths"].append((day, laugh["strength"] if laugh else None, laugh and laugh["active"]))
    return observed


async def test_two_weeks_of_life_consolidate_resolve_drift_quirks_and_guarded_outreach(life: Life) -> None:  # noqa: F811
    observed = await live(life, ["sam", "olga"])
    outbox = await life.outreach.outbox()

    # -- proactive outreach respected every guardrail -----------------------------------------------------------
    sent = sorted(float(entry["created_at"]) for entry in outbox if entry["user_id"] == "sam")
    assert not [entry for entry in outbox if entry["user_id"] == "olga"]  # opted out: never
    assert sent, "a silent week with urgent needs should bring at least one outreach"
    assert any(t >= START + CHAT_DAYS * DAY for t in sent)  # the silent days
    for at in sent:
        local = datetime.fromtimestamp(at, PARIS)
        assert 8 <= local.hour < 22, f"outreach in quiet hours at {local}"
    per_day: dict[str, int] = {}
    for at in sent:
        key = datetime.fromtimestamp(at, PARIS).date().isoformat()
        per_day[key] = per_day.get(key, 0) + 1
    assert max(per_day.values()) <= MAX_PER_DAY
    messages = life.long_term.message_times("sam", since=0)
    for previous, current in zip(sent, sent[1:], strict=False):
        assert current - previous >= MIN_GAP_HOURS * HOUR
        answered = any(previous <= m <= previous + IGNORED_AFTER_HOURS * HOUR for m in messages)
        if not answered and not any(previous < m < current for m in messages):
            # ignored: silent until 24 h after it went unanswered
            assert current >= previous + (IGNORED_AFTER_HOURS + SILENCE_AFTER_DECLINE_HOURS) * HOUR
    for entry in outbox:
        reasons = json.loads(entry["reasons"])
        assert float(entry["score"]) >= 0.6 and reasons["score"]["should_reach_out"] is True
        assert entry["text"] and entry["trigger"] in {"need_urgency", "timing_optimal", "interaction_pattern"}

    # -- consolidation: the four runs became one semantic memory, sources kept -----------------------------------
    semantic = [r for r in life.long_term.list_memories("sam", limit=10_000) if r.kind is MemoryKind.SEMANTIC]
    run_memory = [r for r in semantic if "park" in r.text and r.category != INSIGHT_CATEGORY]
    assert len(run_memory) == 1
    # ... and the nightly insights noticed the runs as a recurring topic, in the companion's own words
    assert any("park" in r.text and r.text.startswith("I noticed") for r in semantic if r.category == INSIGHT_CATEGORY)
    sources = life.log.get("sam", [f"consolidation:{run_memory[0].id}"])
    assert len(next(iter(sources.values())).data["source_ids"]) >= 3

    # -- conflict: the newer colour wins by temporal precedence ---------------------------------------------------
    conflicts = [e for e in life.log.entries("sam", type="conflict") if "colour" in " ".join(e.data["texts"])]
    assert len(conflicts) == 1 and conflicts[0].data["strategy"] == "temporal_precedence"
    blue = [r for r in life.long_term.list_memories("sam", limit=10_000) if r.text == "My favourite colour is blue"]
    assert blue[0].importance == conflicts[0].data["importance_after"] < conflicts[0].data["importance_before"]

    # -- drift: the baseline moved toward the week's (happier) average mood, slowly -------------------------------
    data, _ = await life.personality_store.load("sam", "default")
    assert data is not None
    state = PersonalityState.from_dict(data)
    start = observed["baseline_start"]
    assert state.baseline.pleasure > start.pleasure  # happy evenings pulled it up
    assert state.baseline.pleasure - start.pleasure < 0.2  # at most 1 % a day of the gap

    # -- quirks: "haha" made a quirk that strengthened, then faded once Sam stopped laughing -----------------------
    strengths = [(day, s, active) for day, s, active in observed["quirk_strengths"] if s is not None]
    assert strengths, "laughing on 3 evenings should create the laughs_in_text quirk"
    peak = max(s for _, s, _ in strengths)
    assert peak >= 0.1  # created at 0.1 (reinforced by +0.05 while used)
    assert strengths[-1][2] is False  # deactivated by the end
