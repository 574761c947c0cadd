"""``companion chats --json`` and the bots' start-up errors, through the real command in a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

from bot_support import ManualClock
from redis.asyncio import Redis

from bots.common.chat_manager import ChatManager

COMPANION = Path(sys.executable).parent / "companion"
PROCESS_TIMEOUT = 120  # bounds a hung process; not a speed assertion


def run(tmp_path: Path, redis_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("COMPANION_")}
    environment.update(COMPANION_DATA_DIR=str(tmp_path / "data"), COMPANION_REDIS_URL=redis_url, **env)
    return subprocess.run(
        [str(COMPANION), *args], env=environment, capture_output=True, text=True, timeout=PROCESS_TIMEOUT, check=False
    )


async def test_chats_json_shows_activity_and_health_of_every_chat(redis: Redis, redis_url: str, tmp_path: Path) -> None:
    clock = ManualClock(now=__import__("time").time())
    telegram = ChatManager(redis, platform="telegram", clock=clock)
    for _ in range(12):
        await telegram.record_message("-1001", title="hikers", chat_type="supergroup", buffered=12)
    await telegram.set_status("-1001", "allowed", "an admin is a member")
    await telegram.record("-1001", "replies", 2)
    await telegram.record("-1001", "errors", 3)
    await telegram.set_status("-1002", "left", "no admin in the chat", title="spam", chat_type="group")
    discord = ChatManager(redis, platform="discord", clock=clock)
    await discord.record_message("555", title="general", chat_type="channel", buffered=0)
    await discord.record("555", "replies")

    result = run(tmp_path, redis_url, "chats", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    chats = {(chat["platform"], chat["chat_id"]): chat for chat in report["chats"]}
    hikers = chats[("telegram", "-1001")]
    assert (hikers["activity"], hikers["health"], hikers["messages_24h"], hikers["buffered"]) == (
        "medium",
        "critical",
        12,
        12,
    )
    assert chats[("telegram", "-1002")]["health"] == "left"
    assert chats[("discord", "555")]["activity"] == "low" and chats[("discord", "555")]["health"] == "healthy"
    assert report["totals"]["chats"] == 3 and report["totals"]["messages_24h"] == 13


async def test_chats_day_is_the_daily_report_of_one_utc_day(redis: Redis, redis_url: str, tmp_path: Path) -> None:
    day_one = 1_767_225_600.0 + 3600  # 2026-01-01 01:00 UTC
    clock = ManualClock(now=day_one)
    telegram = ChatManager(redis, platform="telegram", clock=clock)
    for _ in range(30):
        await telegram.record_message("-1001", title="hikers", chat_type="supergroup", buffered=0)
    await telegram.record("-1001", "replies", 4)
    await telegram.record("-1001", "skipped", 2)
    clock.current = day_one + 86400  # the next day: another chat only
    await telegram.record_message("-1003", title="book club", chat_type="group", buffered=0)

    result = run(tmp_path, redis_url, "chats", "--day", "2026-01-01", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [(c["chat_id"], c["messages"], c["replies"], c["skipped"], c["activity"]) for c in report["chats"]] == [
        ("-1001", 30, 4, 2, "medium")
    ]
    assert report["totals"]["chats"] == 1 and report["totals"]["messages"] == 30
    next_day = json.loads(run(tmp_path, redis_url, "chats", "--day", "2026-01-02", "--json").stdout)
    assert [c["title"] for c in next_day["chats"]] == ["book club"]
    bad = run(tmp_path, redis_url, "chats", "--day", "last tuesday")
    assert bad.returncode == 2 and "not a day" in bad.stderr and len(bad.stderr.strip().splitlines()) <= 3


def test_bot_start_with_a_missing_or_malformed_token_is_one_line(tmp_path: Path, redis_url: str) -> None:
    missing = run(tmp_path, redis_url, "bot", "telegram")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "error: COMPANION_TELEGRAM_TOKEN is not set: create a bot token at @BotFather (see README, 'Bots')"
    ]
    malformed = run(tmp_path, redis_url, "bot", "discord", COMPANION_DISCORD_TOKEN="oops")
    assert malformed.returncode == 2
    assert len(malformed.stderr.strip().splitlines()) == 1 and "COMPANION_DISCORD_TOKEN" in malformed.stderr


async def test_interactions_lists_a_users_log_newest_first(redis: Redis, redis_url: str, tmp_path: Path) -> None:
    from memory.records import Turn
    from memory.short_term import ShortTermStore

    store = ShortTermStore(redis)
    for index, (emotion, rule) in enumerate([("sadness", "sorry_for"), ("joy", "happy_for")]):
        entry = {"turn_id": f"t{index}", "conversation_id": "default", "at": repr(1_767_225_600.0 + index),
                 "response_ms": "12.5", "responder": "offline", "pad_before": '{"pleasure": 0.3}',
                 "pad_after": '{"pleasure": 0.2}', "mood_rule": rule, "emotion": emotion, "intensity": "80",
                 "memories_used": "1", "memories_withheld": "0", "sensitivity": "general", "injection": "none",
                 "crisis": "", "proactive": "0"}  # fmt: skip
        turn = [Turn("user", "x", 1.0)]
        await store.record_turn("cli-log", "default", turn, now=1.0, ttl=60, interaction=entry)
    result = run(tmp_path, redis_url, "interactions", "--user", "cli-log", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["interactions"]
    assert [(r["turn_id"], r["emotion"], r["intensity"], r["pad_after"]["pleasure"]) for r in rows] == [
        ("t1", "joy", 80, 0.2),
        ("t0", "sadness", 80, 0.2),
    ]
    table = run(tmp_path, redis_url, "interactions", "--user", "cli-log", "--limit", "1", COLUMNS="200")
    assert table.returncode == 0 and "happy_for" in table.stdout and "sorry_for" not in table.stdout
    bad = run(tmp_path, redis_url, "interactions", "--user", "cli-log", "--limit", "0")
    assert bad.returncode == 2 and "between 1 and 1000" in bad.stderr


def test_profile_shows_and_changes_a_users_profile_with_one_line_errors(redis_url: str, tmp_path: Path) -> None:
    shown = run(tmp_path, redis_url, "profile", "--user", "cli-prof", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["language"] == "en"
    changed = run(tmp_path, redis_url, "profile", "--user", "cli-prof", "--name", "Ana", "--language", "pt-BR",
                  "--analytics-consent", "no", "--json")  # fmt: skip
    assert json.loads(changed.stdout) == {
        "user_id": "cli-prof",
        "display_name": "Ana",
        "language": "pt-BR",
        "analytics_consent": False,
    }
    bad = run(tmp_path, redis_url, "profile", "--user", "cli-prof", "--language", "Portuguese")
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1 and "pt-BR" in bad.stderr
