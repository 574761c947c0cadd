"""Reflection and outreach controls over REST: preferences and a "not now", a proactive decision on demand, a
reflection run, its conflicts and archive with undo and restore, each with the errors a client can cause."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.api_helpers import api_client, make_key

YEAR = 365 * 86400.0


def test_outreach_preferences_decline_and_a_proactive_decision(tmp_path: Path, redis_url: str) -> None:
    user = "rest-pia"
    own, admin, other = (
        make_key(redis_url, user_id=user),
        make_key(redis_url, admin=True),
        make_key(redis_url, user_id="x"),
    )
    base = f"/v1/users/{user}"
    with api_client(tmp_path, redis_url) as client:
        assert client.get(f"{base}/outreach/preferences", headers=own).json() == {
            "timezone": "UTC",
            "quiet_hours": "22-08",
            "opt_out": False,
        }
        changed = client.patch(
            f"{base}/outreach/preferences", json={"timezone": "Europe/Paris", "quiet_hours": "23-7"}, headers=own
        )
        assert changed.status_code == 200 and changed.json()["quiet_hours"] == "23-07"
        assert changed.json()["timezone"] == "Europe/Paris" and changed.json()["opt_out"] is False
        opted_out = client.patch(f"{base}/outreach/preferences", json={"opt_out": True}, headers=own).json()
        assert opted_out == {"timezone": "Europe/Paris", "quiet_hours": "23-07", "opt_out": True}

        bad_zone = client.patch(f"{base}/outreach/preferences", json={"timezone": "Mars/Olympus"}, headers=own)
        assert bad_zone.status_code == 400 and "Mars/Olympus" in bad_zone.json()["detail"]
        for body in ({"quiet_hours": "25-3"}, {"snooze": True}):
            assert client.patch(f"{base}/outreach/preferences", json=body, headers=own).status_code == 422
        assert client.get(f"{base}/outreach/preferences", headers=other).status_code == 403
        assert client.post(f"{base}/outreach/decline", headers=own).status_code == 200

        client.post("/v1/chat", json={"user_id": user, "message": "I start my new job on Monday"}, headers=own)
        decided = client.post(f"{base}/proactive", json={}, headers=own)
        assert decided.status_code == 200, decided.text
        decision = decided.json()
        assert decision["dry_run"] is True and decision["decision"]["decision"] == "blocked"
        assert "opt" in str(decision["decision"]["blocked"]).lower()
        assert client.post(f"{base}/proactive", json={"dry_run": False}, headers=own).status_code == 403
        assert client.post(f"{base}/proactive", json={"dry_run": False}, headers=admin).status_code == 200


def test_reflection_run_archive_restore_and_conflicts_over_rest(tmp_path: Path, redis_url: str) -> None:
    user = "rest-ravi"
    own = make_key(redis_url, user_id=user)
    base = f"/v1/users/{user}"
    with api_client(tmp_path, redis_url) as client:
        said = client.post("/v1/chat", json={"user_id": user, "message": "ok lol"}, headers=own).json()
        report = client.post(f"{base}/reflect", json={"tasks": ["consolidate", "conflicts"]}, headers=own)
        assert report.status_code == 200, report.text
        assert report.json()["tasks"] == ["consolidate", "conflicts"] and "X-RateLimit-Remaining" in report.headers

        later = time.time() + 2 * YEAR  # two years of silence: small talk fades out of recall
        forgot = client.post(f"{base}/reflect", json={"tasks": ["forget"], "now": later}, headers=own)
        assert forgot.status_code == 200, forgot.text
        archived = client.get(f"{base}/archive", headers=own).json()["archived"]
        assert said["memory_id"] in [memory["id"] for memory in archived]
        restored = client.post(f"{base}/archive/{said['memory_id']}/restore", headers=own)
        assert restored.status_code == 200 and restored.json()["status"] == "restored"
        assert client.get(f"{base}/archive", headers=own).json()["archived"] == []
        assert client.get(f"{base}/memories/{said['memory_id']}", headers=own).status_code == 200
        assert client.post(f"{base}/archive/{said['memory_id']}/restore", headers=own).status_code == 409
        assert client.post(f"{base}/archive/nope/restore", headers=own).status_code == 404

        listed = client.get(f"{base}/conflicts", headers=own).json()
        assert listed["user_id"] == user and isinstance(listed["conflicts"], list)
        assert client.post(f"{base}/conflicts/conflict-nope/undo", headers=own).status_code == 404
        assert client.post(f"{base}/reflect", json={"tasks": ["dream"]}, headers=own).status_code == 422
        assert client.post(f"{base}/reflect", json={"tasks": []}, headers=own).status_code == 422


def test_insights_over_rest_the_run_reports_them_and_the_latest_is_one_get_away(tmp_path: Path, redis_url: str) -> None:
    user = "rest-ines"
    own, other = make_key(redis_url, user_id=user), make_key(redis_url, user_id="x")
    base = f"/v1/users/{user}"
    said = ["I practised the cello tonight", "Noor came over for dinner", "The cello teacher was pleased"]
    with api_client(tmp_path, redis_url) as client:
        assert client.get(f"{base}/insights", headers=own).json() == {
            "user_id": user,
            "reports": [],
            "next_cursor": None,
        }
        for text in said * 2:
            assert client.post("/v1/chat", json={"user_id": user, "message": text}, headers=own).status_code == 200
        now = time.time()
        ran = client.post(f"{base}/reflect", json={"tasks": ["insights"], "now": now}, headers=own)
        assert ran.status_code == 200, ran.text
        report = ran.json()["insights"]
        assert report["timezone"] == "UTC" and report["reporter"] == "local"
        assert report["findings"]["messages"] == 6 and report["findings"]["excluded"] == {"sealed": 0, "crisis": 0}
        # six messages of one day: enough to look, but nothing recurs on 3 days and a trend needs 3 days
        assert report["insights"] == [] and "Recurring topics: none on 3 or more days." in report["report"]
        again = client.post(f"{base}/reflect", json={"tasks": ["insights"], "now": now + 60}, headers=own)
        assert again.status_code == 200 and again.json()["insights"]["day"] == report["day"]

        listed = client.get(f"{base}/insights?limit=1", headers=own)
        assert listed.status_code == 200, listed.text
        assert [r["day"] for r in listed.json()["reports"]] == [report["day"]]  # one report per day, not two
        assert listed.json()["next_cursor"] is None
        assert client.post(f"{base}/reflect", json={}, headers=own).json()["insights"]["day"] == report["day"]

        assert client.get(f"{base}/insights", headers=other).status_code == 403
        assert client.get(f"{base}/insights?limit=0", headers=own).status_code == 422
        bad_cursor = client.get(f"{base}/insights?cursor=bm9wZQ", headers=own)
        assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.json()["detail"]
        typo = client.post(f"{base}/reflect", json={"tasks": ["insight"]}, headers=own)
        assert typo.status_code == 422 and "insights" in typo.text
