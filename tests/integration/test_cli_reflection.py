"""The reflection and outreach commands of the real ``companion`` command, in a subprocess."""

import json
from pathlib import Path

import chromadb
import redis as redis_sync
from chromadb.config import Settings as ChromaSettings

from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.records import MemoryRecord
from tests.integration.test_cli import cli_env, companion, sync_redis  # noqa: F401 (fixtures)


def test_reflect_finds_a_planted_conflict(
    data_dir: Path,
    redis_url: str,
    sync_redis: redis_sync.Redis,  # noqa: F811
    embedder: Embedder,
    tmp_path: Path,
) -> None:
    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = LongTermStore(client)
    texts = ["I love jazz", "I hate jazz"]
    records = [MemoryRecord(id=f"j{i}", user_id="zoe", text=t, created_at=1e9 + i) for i, t in enumerate(texts)]
    store.add("zoe", records, embedder.embed(texts))
    del store, client

    env = cli_env(data_dir, redis_url)
    done = companion("reflect", "--user", "zoe", "--tasks", "conflicts", "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [conflict] = json.loads(done.stdout)["conflicts"]
    assert conflict["conflict_type"] == "preference_conflict" and conflict["status"] == "awaiting_user"
    bad = companion("reflect", "--user", "zoe", "--now", "yesterday-ish", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "invalid time" in bad.stderr and "Traceback" not in bad.stderr


def test_reflect_reports_the_week_it_noticed_and_insights_lists_it(
    data_dir: Path,
    redis_url: str,
    sync_redis: redis_sync.Redis,  # noqa: F811
    embedder: Embedder,
    tmp_path: Path,
) -> None:
    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = LongTermStore(client)
    day, start = 86_400.0, 1_767_225_600.0  # 2026-01-01 00:00 UTC
    moods = [("sadness", 80), ("sadness", 40), ("neutral", 0), ("happiness", 40), ("happiness", 80)]
    texts = [f"Back from the climbing gym, day {n}" for n in range(5)]
    records = [
        MemoryRecord(id=f"c{n}", user_id="ivy", text=text, created_at=start + n * day, emotion=e, emotion_intensity=i)
        for n, (text, (e, i)) in enumerate(zip(texts, moods, strict=True))
    ]
    store.add("ivy", records, embedder.embed(texts))
    del store, client

    env = cli_env(data_dir, redis_url)
    ran = companion(
        "reflect", "--user", "ivy", "--tasks", "insights", "--now", "2026-01-05T22:00", "--json", env=env, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)["insights"]
    assert report["day"] == "2026-01-05" and report["findings"]["mood"]["direction"] == "improving"
    assert {i["kind"] for i in report["insights"]} == {"topics", "mood"}
    assert "climbing (5 days)" in report["report"]
    as_text = companion(
        "reflect", "--user", "ivy", "--tasks", "insights", "--now", "2026-01-05T22:00", env=env, cwd=tmp_path
    )
    assert as_text.returncode == 0 and "    - Mood trend: improving" in as_text.stdout  # the report, a line a finding

    listed = companion("insights", "--user", "ivy", "--json", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [stored] = json.loads(listed.stdout)["reports"]
    assert [i["id"] for i in stored["insights"]] == [i["id"] for i in report["insights"]] and "source_ids" not in stored
    text = companion("insights", "--user", "ivy", env=env, cwd=tmp_path)
    assert text.returncode == 0 and "2026-01-05 (UTC, local)" in text.stdout and "Mood trend: improving" in text.stdout
    for argv in (("--limit", "0"), ("--user", "not a user")):
        bad = companion("insights", "--user", "ivy", *argv, env=env, cwd=tmp_path)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr
    typo = companion("reflect", "--user", "ivy", "--tasks", "insight", env=env, cwd=tmp_path)
    assert typo.returncode == 2 and "unknown reflection task(s) insight" in typo.stderr
    assert len(typo.stderr.strip().splitlines()) == 1


def test_prefs_and_a_proactive_dry_run_with_reasons(
    data_dir: Path,  # noqa: F811
    redis_url: str,
    sync_redis: redis_sync.Redis,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = cli_env(data_dir, redis_url)
    opted = companion(
        "prefs", "--user", "yan", "--timezone", "Asia/Tokyo", "--opt-out", "--json", env=env, cwd=tmp_path
    )
    assert opted.returncode == 0, opted.stderr
    assert json.loads(opted.stdout) == {
        "user": "yan",
        "timezone": "Asia/Tokyo",
        "quiet_hours": "22-08",
        "opt_out": True,
    }
    result = companion("proactive", "--dry-run", "--user", "yan", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [decision] = json.loads(result.stdout)["decisions"]
    assert decision["user_id"] == "yan" and decision["blocked"] == "opted out"
    bad = companion("prefs", "--user", "yan", "--timezone", "Nowhere/Land", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "unknown time zone" in bad.stderr and "Traceback" not in bad.stderr
