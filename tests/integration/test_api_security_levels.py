"""Sensitivity levels over HTTP (design seed 002), with real Redis, Chroma and embedder (tenants: test_api.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memory.long_term import collection_name
from tests.integration.api_helpers import api_client, make_key


def _chat(client: Any, auth: dict[str, str], user_id: str, message: str) -> dict[str, Any]:
    response = client.post("/v1/chat", json={"user_id": user_id, "message": message}, headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _texts(page: dict[str, Any]) -> set[str]:
    return {memory["text"] for memory in page["memories"]}


JAZZ = "I like jazz."
HIKE = "Yesterday I went hiking with my sister."
THERAPY = "My therapist says my depression is getting better."
PASSWORD = "My email password is hunter2."


def test_memories_carry_a_level_and_search_filters_by_level_and_tag(tmp_path: Path, redis_url: str) -> None:
    own = make_key(redis_url, user_id="lvl-gus")
    with api_client(tmp_path, redis_url) as client:
        said = {
            message: _chat(client, own, "lvl-gus", message)["sensitivity"]
            for message in (JAZZ, HIKE, THERAPY, PASSWORD)
        }
        assert said[PASSWORD]["level"] == "ultrasecret" and said[PASSWORD]["security_level"] == 4
        listing = client.get("/v1/users/lvl-gus/memories", headers=own).json()
        levels = {memory["text"]: memory["sensitivity"] for memory in listing["memories"]}
        assert levels == {JAZZ: "general", HIKE: "chronological", THERAPY: "confidential", PASSWORD: "ultrasecret"}
        therapy = next(m for m in listing["memories"] if m["text"] == THERAPY)
        assert therapy["sensitivity_confidence"] >= 0.8 and "health" in therapy["tags"]

        by_level = client.get("/v1/users/lvl-gus/memories?level=confidential", headers=own).json()
        assert _texts(by_level) == {THERAPY} and by_level["total"] == 1
        by_tag = client.get("/v1/users/lvl-gus/memories?tag=family", headers=own).json()
        assert _texts(by_tag) == {HIKE}
        both = client.get("/v1/users/lvl-gus/memories?tag=family&level=general", headers=own).json()
        assert both["memories"] == [] and both["total"] == 0
        search = client.get("/v1/users/lvl-gus/memories?q=my+password&level=ultrasecret", headers=own).json()
        assert _texts(search) == {PASSWORD}

        for bad in ("level=topsecret", "level=", "tag=Has%20Space", "tag=" + "x" * 41):
            response = client.get(f"/v1/users/lvl-gus/memories?{bad}", headers=own)
            assert response.status_code == 422, (bad, response.text)
            assert response.json()["error"] == "ValidationError"


def test_admin_listings_hide_confidential_and_above_without_clearance(tmp_path: Path, redis_url: str) -> None:
    own = make_key(redis_url, user_id="clr-ida")
    admin = make_key(redis_url, admin=True)  # default clearance: chronological
    cleared = make_key(redis_url, admin=True, clearance="ultrasecret")
    with api_client(tmp_path, redis_url) as client:
        ids = {message: _chat(client, own, "clr-ida", message)["memory_id"] for message in (JAZZ, HIKE, PASSWORD)}
        seen = client.get("/v1/users/clr-ida/memories", headers=admin).json()
        assert _texts(seen) == {JAZZ, HIKE} and seen["total"] == 2
        searched = client.get("/v1/users/clr-ida/memories?q=password", headers=admin)
        assert "hunter2" not in searched.text
        refused = client.get(f"/v1/users/clr-ida/memories/{ids[PASSWORD]}", headers=admin)
        assert refused.status_code == 403 and "hunter2" not in refused.text
        assert "classified ultrasecret" in refused.json()["detail"] and "clearance" in refused.json()["detail"]
        assert _texts(client.get("/v1/users/clr-ida/memories", headers=cleared).json()) == {JAZZ, HIKE, PASSWORD}
        assert client.get(f"/v1/users/clr-ida/memories/{ids[PASSWORD]}", headers=cleared).status_code == 200
        assert len(client.get("/v1/users/clr-ida/memories", headers=own).json()["memories"]) == 3


def test_admin_clearance_also_holds_on_versions_relations_and_raw_transcripts(tmp_path: Path, redis_url: str) -> None:
    own = make_key(redis_url, user_id="clr-joe")
    admin = make_key(redis_url, admin=True)  # default clearance: chronological
    cleared = make_key(redis_url, admin=True, clearance="ultrasecret")
    with api_client(tmp_path, redis_url) as client:
        secret_id = _chat(client, own, "clr-joe", PASSWORD)["memory_id"]
        jazz_id = _chat(client, own, "clr-joe", JAZZ)["memory_id"]
        for view in ("versions", "relations"):
            refused = client.get(f"/v1/users/clr-joe/memories/{secret_id}/{view}", headers=admin)
            assert refused.status_code == 403 and "classified ultrasecret" in refused.json()["detail"], view
            assert client.get(f"/v1/users/clr-joe/memories/{secret_id}/{view}", headers=cleared).status_code == 200
            assert client.get(f"/v1/users/clr-joe/memories/{jazz_id}/{view}", headers=admin).status_code == 200
        raw = {"session_id": "s1", "messages": [{"role": "user", "content": "My PIN is 4921."}]}
        assert client.post("/v1/users/clr-joe/raw", json=raw, headers=own).status_code == 202
        for path in ("/v1/users/clr-joe/hierarchy", "/v1/users/clr-joe/sessions/s1"):
            refused = client.get(path, headers=admin)
            assert refused.status_code == 403 and "clearance is chronological" in refused.json()["detail"], path
            assert client.get(path, headers=cleared).status_code == 200, path
            assert client.get(path, headers=own).status_code == 200, path


def test_a_shared_turn_never_uses_confidential_memories_and_says_how_many_it_held_back(
    tmp_path: Path, redis_url: str
) -> None:
    own = make_key(redis_url, user_id="grp-joe")
    with api_client(tmp_path, redis_url) as client:
        for message in (JAZZ, THERAPY, PASSWORD):
            _chat(client, own, "grp-joe", message)
        question = {"user_id": "grp-joe", "message": "How is my depression? My therapist said something."}
        private = client.post("/v1/chat", json=question, headers=own).json()
        assert THERAPY in {m["text"] for m in private["memories"]} and private["withheld_memories"] == 0

        shared = client.post("/v1/chat", json={**question, "shared": True}, headers=own).json()
        used = {m["text"] for m in shared["memories"]}
        assert THERAPY not in used and PASSWORD not in used
        assert shared["withheld_memories"] >= 1
        assert "hunter2" not in shared["reply"]

        stream = client.post("/v1/chat/stream", json={**question, "shared": True}, headers=own)
        assert stream.status_code == 200 and THERAPY not in stream.text and '"withheld_memories":' in stream.text

        for not_a_boolean in ("in the group", 0, "true"):
            bad = client.post("/v1/chat", json={**question, "shared": not_a_boolean}, headers=own)
            assert bad.status_code == 422 and bad.json()["error"] == "ValidationError", not_a_boolean


def test_secret_memories_are_encrypted_at_rest_and_read_back_in_clear_by_their_owner(
    tmp_path: Path, redis_url: str
) -> None:
    own = make_key(redis_url, user_id="lvl-ida")
    with api_client(tmp_path, redis_url) as client:
        assert _chat(client, own, "lvl-ida", PASSWORD)["sensitivity"]["level"] == "ultrasecret"
        _chat(client, own, "lvl-ida", JAZZ)
        # an ordinary question whose reply quotes the secret: the reply is kept with the question, sealed too
        reminder = _chat(client, own, "lvl-ida", "Remind me of my email login.")
        assert "hunter2" in reminder["reply"] and reminder["sensitivity"]["level"] not in ("secret", "ultrasecret")
        listing = client.get("/v1/users/lvl-ida/memories", headers=own).json()
        assert {PASSWORD, JAZZ} <= _texts(listing)  # the owner reads it as they said it
        search = client.get("/v1/users/lvl-ida/memories?q=my+email+password", headers=own).json()
        assert PASSWORD in _texts(search)  # still recalled (by its embedding)
        services = client.app.state.services  # type: ignore[attr-defined]
        secret = next(m for m in listing["memories"] if m["text"] == PASSWORD)
        raw = services.long_term.client.get_collection(_collection_of(services, "lvl-ida")).get(ids=[secret["id"]])
        details = json.loads(str(raw["metadatas"][0]["details"]))
        assert raw["documents"][0].startswith("enc:v1:") and details["reply"].startswith("enc:v1:")

    # what is on disk: Chroma's files, the lexical index and the conversation checkpoints hold neither the password
    # nor a reply quoting it
    stores = [*(tmp_path / "chroma").rglob("*"), *(tmp_path / "lexical").rglob("*"), *tmp_path.glob("checkpoints*")]
    plain = [str(path.relative_to(tmp_path)) for path in stores if path.is_file() and b"hunter2" in path.read_bytes()]
    assert plain == []
    files = b"".join(path.read_bytes() for path in stores if path.is_file())
    assert b"I like jazz." in files  # an ordinary memory stays plain (and searchable by its words)
    assert (tmp_path / "encryption.key").stat().st_mode & 0o077 == 0


def _collection_of(services: Any, user_id: str) -> str:
    return collection_name(user_id)
