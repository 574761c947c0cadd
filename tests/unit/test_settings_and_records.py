"""Settings from the environment, id and message validation, the memory record format and the Redis key scheme."""

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from companion.core.errors import ConfigurationError, InvalidInputError
from companion.core.settings import Settings, load_settings, unknown_variables
from memory.long_term import collection_name
from memory.records import (
    ASSOC_PENDING_KEY,
    DETAILS_KEY,
    OWN_KEYS,
    MemoryKind,
    MemoryRecord,
    validate_conversation_id,
    validate_message,
    validate_user_id,
)
from memory.short_term import ASSOCIATION_STREAM, last_active_key, turns_key


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No ``COMPANION_*`` variables and no ``.env`` file, whatever the machine running the tests has."""
    for key in list(os.environ):
        if key.startswith("COMPANION_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


# -- settings ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("COMPANION_RETRIEVAL_K", "abc"),
        ("COMPANION_RETRIEVAL_K", "0"),
        ("COMPANION_RETRIEVAL_K", "51"),
        ("COMPANION_MAX_MESSAGE_CHARS", "0"),
        ("COMPANION_CONTEXT_TURNS", "-3"),
        ("COMPANION_RATE_LIMIT_PER_USER", "0"),
        ("COMPANION_RATE_LIMIT_GLOBAL", "lots"),
        ("COMPANION_ACTIVE_TTL_SECONDS", "5"),
        ("COMPANION_INACTIVE_TTL_SECONDS", "1.5"),
        ("COMPANION_REDIS_URL", "http://localhost:6379"),
        ("COMPANION_CHROMA_URL", "localhost:8000"),
        ("COMPANION_CHAT_MODEL", "gpt-4o-mini"),
        ("COMPANION_DATA_DIR", ""),
        ("COMPANION_CHROMA_PATH", "  "),
    ],
)
def test_a_bad_environment_value_is_a_one_line_configuration_error_naming_the_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"invalid setting {variable}: ")
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_url_and_model_errors_say_what_is_expected(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("COMPANION_REDIS_URL", "http://localhost:6379")
    with pytest.raises(ConfigurationError, match="redis://"):
        load_settings()
    clean_env.delenv("COMPANION_REDIS_URL")
    clean_env.setenv("COMPANION_CHAT_MODEL", "gpt-4o-mini")
    with pytest.raises(ConfigurationError, match="provider:model"):
        load_settings()


def test_a_bad_override_names_the_variable_too(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="COMPANION_CONTEXT_TURNS"):
        load_settings(context_turns=0)


def test_defaults_without_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    settings = load_settings()
    assert settings.data_dir == tmp_path / "xdg" / "companion"
    assert settings.resolved_chroma_path == tmp_path / "xdg" / "companion" / "chroma"
    assert settings.redis_url is None
    assert settings.chroma_url is None
    assert settings.chat_model is None
    assert (settings.retrieval_k, settings.context_turns, settings.max_message_chars) == (5, 20, 4000)
    assert (settings.active_ttl_seconds, settings.inactive_ttl_seconds) == (86400, 3600)


def test_good_environment_values_are_read_and_empty_urls_mean_unset(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("COMPANION_DATA_DIR", str(tmp_path / "data"))
    clean_env.setenv("COMPANION_RETRIEVAL_K", "7")
    clean_env.setenv("COMPANION_REDIS_URL", "")
    clean_env.setenv("COMPANION_CHROMA_URL", "")
    clean_env.setenv("COMPANION_CHAT_MODEL", "openai:gpt-4o-mini")
    clean_env.setenv("COMPANION_OPENAI_API_KEY", "sk-very-secret")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "data"
    assert settings.retrieval_k == 7
    assert settings.redis_url is None
    assert settings.chroma_url is None
    assert settings.chat_model == "openai:gpt-4o-mini"
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-very-secret"
    assert "sk-very-secret" not in repr(settings)

    clean_env.setenv("COMPANION_REDIS_URL", "unix:///tmp/redis.sock")
    assert load_settings().redis_url == "unix:///tmp/redis.sock"


def test_a_dot_env_file_is_read_and_the_environment_wins_over_it(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("COMPANION_RETRIEVAL_K=9\nCOMPANION_PERSONA=mira\n")
    assert (load_settings().retrieval_k, load_settings().persona) == (9, "mira")
    clean_env.setenv("COMPANION_RETRIEVAL_K", "3")
    assert load_settings().retrieval_k == 3
    (tmp_path / ".env").write_text("COMPANION_RETRIEVAL_K=nine\n")
    clean_env.delenv("COMPANION_RETRIEVAL_K")
    with pytest.raises(ConfigurationError, match="COMPANION_RETRIEVAL_K"):
        load_settings()


def test_every_setting_is_documented() -> None:
    assert all(field.description for field in Settings.model_fields.values())


# -- ids and messages ----------------------------------------------------------------------------------------
GOOD_IDS = ["u1", "alice", "123456789012345678", "tg:12345", "a.b_c-d@e", "A" * 128, "0"]
BAD_IDS = ["", " ", "bad user!", "-a", "_a", ".a", "a" * 129, "a/b", "a{b}", "a*", "a\n", "\u00e9l\u00e8ve", "a b"]


@pytest.mark.parametrize("value", GOOD_IDS)
def test_well_formed_ids_are_accepted(value: str) -> None:
    assert validate_user_id(value) == value
    assert validate_conversation_id(value) == value


@pytest.mark.parametrize("value", BAD_IDS)
def test_malformed_user_ids_are_rejected_with_the_value_shown(value: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid user id") as caught:
        validate_user_id(value)
    assert repr(value[:40]) in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("value", BAD_IDS)
def test_malformed_conversation_ids_are_rejected(value: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid conversation id"):
        validate_conversation_id(value)


def test_a_very_long_user_id_is_shortened_in_the_error() -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_user_id("u" * 5000)
    assert len(str(caught.value)) < 200
    assert "..." in str(caught.value)


def test_ids_that_are_not_text_are_rejected() -> None:
    with pytest.raises(InvalidInputError):
        validate_user_id(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        validate_conversation_id(None)  # type: ignore[arg-type]


def test_terminal_control_codes_are_removed_and_the_rest_kept_as_written() -> None:
    assert validate_message("\x1b[1;31mred\x1b[0m alert\x07", max_chars=50) == "red alert"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467 my family"
    assert validate_message(family, max_chars=50) == family


def test_messages_are_stripped_and_may_be_exactly_the_limit() -> None:
    assert validate_message("  hello there \n", max_chars=50) == "hello there"
    assert validate_message(" " + "x" * 10 + " ", max_chars=10) == "x" * 10


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("", "message is empty"),
        ("   \t\n ", "message is empty"),
        ("x" * 11, "message is 11 characters long; the limit is 10"),
        ("a\x00b", "message contains a NUL character"),
        (b"bytes", "message must be text"),
        (None, "message must be text"),
        ("\u200b\u200c\u2060\ufeff", "message has no visible text (only invisible or formatting characters)"),
        ("\x1b[31m\x1b[0m\x1b]0;title\x07", "message is empty"),
        ("\x1b[2J \u200b", "message has no visible text (only invisible or formatting characters)"),
    ],
)
def test_bad_messages_are_rejected_naming_the_problem(message: object, problem: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_message(message, max_chars=10)  # type: ignore[arg-type]
    assert str(caught.value) == problem


# -- memory records ------------------------------------------------------------------------------------------
def test_a_memory_record_round_trips_through_chroma_metadata() -> None:
    record = MemoryRecord(
        id="m1",
        user_id="alice",
        text="I have a cat called Miso.",
        kind=MemoryKind.SEMANTIC,
        importance=900,
        category="pets",
        emotion="joy",
        emotion_intensity=3,
        created_at=1_700_000_000.123456,
        last_accessed=1_700_000_100.5,
        version=2,
        conversation_id="c1",
        reply="What a lovely name.",
    )
    metadata = record.to_metadata()
    assert all(isinstance(value, str | int | float) for value in metadata.values())
    assert "id" not in metadata and "text" not in metadata
    assert MemoryRecord.from_chroma(record.id, record.text, metadata) == record


def test_a_never_accessed_record_reads_back_as_accessed_when_created() -> None:
    record = MemoryRecord(id="m1", user_id="alice", text="hello", created_at=1_700_000_000.0)
    back = MemoryRecord.from_chroma("m1", "hello", record.to_metadata())
    assert back.last_accessed == record.created_at
    assert back.kind is MemoryKind.EPISODIC
    assert back.reply == ""


def test_a_record_from_chroma_without_metadata_gets_the_defaults() -> None:
    back = MemoryRecord.from_chroma("m1", None, None)
    assert (back.id, back.user_id, back.text, back.kind, back.version) == ("m1", "", "", MemoryKind.EPISODIC, 1)


def test_a_record_as_dict_is_json() -> None:
    record = MemoryRecord(id="m1", user_id="alice", text="hello", kind=MemoryKind.SEMANTIC)
    data = json.loads(json.dumps(record.to_dict()))
    assert data["kind"] == "semantic"
    assert data["id"] == "m1"
    assert data["text"] == "hello"


# -- keys ------------------------------------------------------------------------------------------------------
def test_redis_keys_of_ids_with_colons_never_collide() -> None:
    assert turns_key("a:c:b", "d") != turns_key("a", "b:c:d")
    assert turns_key("a:c", "b") != turns_key("a", "c:b")
    assert last_active_key("a:c:b") != last_active_key("a")
    keys = {turns_key("a:c:b", "d"), turns_key("a", "b:c:d"), last_active_key("a:c:b"), last_active_key("a")}
    assert len(keys) == 4
    assert ASSOCIATION_STREAM not in keys


def test_every_key_of_a_user_shares_one_cluster_hash_tag() -> None:
    for user in ("a", "a:c:b", "tg:12345"):
        tag = "{" + user.replace(":", "%3A") + "}"
        assert tag in turns_key(user, "c:1")
        assert tag in last_active_key(user)
        assert turns_key(user, "c:1").index(tag) < turns_key(user, "c:1").index("{c%3A1}")


def test_chroma_collection_names_differ_per_user_and_are_valid() -> None:
    users = ["a", "a:c:b", "A", "tg:12345", "x" * 128]
    names = [collection_name(user) for user in users]
    assert len(set(names)) == len(users)
    for name in names:
        assert 3 <= len(name) <= 63
        assert name.replace("-", "").isalnum()


# -- unknown variables ------------------------------------------------------------------------------------------
def test_a_misspelled_variable_is_named_with_the_closest_setting(tmp_path: Path) -> None:
    warnings = unknown_variables({"COMPANION_RETRIEVAL_KK": "3", "COMPANION_RETRIEVAL_K": "4", "HOME": "/"}, None)
    assert warnings == ["COMPANION_RETRIEVAL_KK is not a setting and is ignored; did you mean COMPANION_RETRIEVAL_K?"]


def test_unknown_variables_in_the_env_file_are_found_too(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("COMPANION_CHAT_MODLE=openai:gpt-4o-mini\nCOMPANION_Q=1\nOTHER=2\n")
    assert unknown_variables({}, env_file) == [
        "COMPANION_CHAT_MODLE is not a setting and is ignored; did you mean COMPANION_CHAT_MODEL?",
        "COMPANION_Q is not a setting and is ignored (see the README's configuration table)",
    ]


def test_every_setting_is_known() -> None:
    environ = {f"COMPANION_{name.upper()}": "x" for name in Settings.model_fields}
    assert unknown_variables(environ, None) == []


def _one_key_per_field(record: MemoryRecord) -> dict[str, object]:
    """The metadata of a record as stores written before the packed form hold it."""
    metadata: dict[str, object] = dict(record.to_metadata())
    metadata.update(json.loads(str(metadata.pop(DETAILS_KEY))))
    return metadata


def test_chroma_metadata_keeps_the_filtered_keys_and_packs_the_rest() -> None:
    record = MemoryRecord(id="m1", user_id="alice", text="My dog is Rex.", importance=700, reply="Lovely.")
    metadata = record.to_metadata()
    assert set(metadata) == (OWN_KEYS - {ASSOC_PENDING_KEY}) | {DETAILS_KEY}
    assert json.loads(str(metadata[DETAILS_KEY]))["importance"] == 700
    pending = replace(record, assoc_pending=True).to_metadata()
    assert pending[ASSOC_PENDING_KEY] is True and ASSOC_PENDING_KEY not in json.loads(str(pending[DETAILS_KEY]))


def test_a_record_stored_one_key_per_field_reads_back_the_same() -> None:
    record = MemoryRecord(
        id="m1", user_id="alice", text="My dog is Rex.", importance=700, tags=("pets",), last_accessed=1_700_000_000.0
    )
    assert MemoryRecord.from_chroma("m1", record.text, _one_key_per_field(record)) == record


def test_an_old_record_rewritten_in_the_packed_form_reads_the_new_values() -> None:
    # Chroma merges a rewrite into the stored metadata: the old per-field keys stay beside the new details
    old = MemoryRecord(id="m1", user_id="alice", text="My dog is Rex.", importance=300, last_accessed=1_700_000_000.0)
    new = replace(old, importance=800, retention=0.4, superseded_by="m2")
    merged = {**_one_key_per_field(old), **new.to_metadata()}
    assert MemoryRecord.from_chroma("m1", old.text, merged) == new
