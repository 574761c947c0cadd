"""One copy (issue 19): which texts are the same content (``memory.records.content_hash``, ``tools.duplicates``)."""

from memory.records import MemoryRecord, content_hash
from memory.sensitivity import Sensitivity
from tools.duplicates import NEAR_DUPLICATE_SIMILARITY, is_near_duplicate


def test_the_implicators_copy_with_the_mention_has_the_chat_turns_hash() -> None:
    said = content_hash("my dog Rex learned to sit today")
    assert content_hash("@companion_bot my dog Rex learned to sit today") == said
    assert content_hash("<@!1234> My dog Rex learned to sit today!!") == said
    assert content_hash("hey @companion_bot my dog Rex learned to sit today") == content_hash(
        "hey my dog Rex learned to sit today"  # Telegram removes the bot's @username wherever it is
    )


def test_an_email_address_or_other_words_are_other_content() -> None:
    assert content_hash("write to me@example.com") != content_hash("write to me")
    assert content_hash("my dog Rex learned to sit") != content_hash("my dog Rex learned to sit today")


def test_a_sealed_memory_carries_no_hash_of_its_secret() -> None:
    record = MemoryRecord(id="m", user_id="u", text="My PIN is 4321.", sensitivity=Sensitivity.ULTRASECRET)
    assert record.to_metadata()["content_hash"] == ""
    assert MemoryRecord(id="m", user_id="u", text="My PIN is 4321.").to_metadata()["content_hash"]


def test_a_near_duplicate_is_contained_and_nearly_identical_in_meaning() -> None:
    assert is_near_duplicate("My dog is Rex", "@bot my dog is Rex, by the way", NEAR_DUPLICATE_SIMILARITY)
    assert not is_near_duplicate("ok", "ok, and my sister is visiting on Sunday", 0.55)
    assert not is_near_duplicate("My dog is Rex", "My cat is Miso", 0.95)
