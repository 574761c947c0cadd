"""Sealing secret memories: round trip, the wrong key, a store without a cipher, the key file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from chromadb.api import ClientAPI
from cryptography.fernet import Fernet

from companion.core.errors import ConfigurationError
from memory.cipher import KEY_FILE, SEALED_PREFIX, TextCipher, load_cipher
from memory.long_term import LongTermStore
from memory.records import MemoryRecord
from memory.sensitivity import Sensitivity


def test_a_sealed_text_opens_with_its_key_only() -> None:
    cipher = TextCipher(Fernet.generate_key())
    sealed = cipher.seal("My PIN is 4821")
    assert sealed.startswith(SEALED_PREFIX) and "4821" not in sealed
    assert cipher.open(sealed) == "My PIN is 4821"
    assert cipher.open("plain text") == "plain text"
    with pytest.raises(ConfigurationError, match="COMPANION_ENCRYPTION_KEY"):
        TextCipher(Fernet.generate_key()).open(sealed)
    with pytest.raises(ConfigurationError, match="not a Fernet key"):
        TextCipher("too short")


def test_the_key_file_is_made_once_owner_only_and_reused(tmp_path: Path) -> None:
    first = load_cipher(None, tmp_path)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0
    assert load_cipher(None, tmp_path).open(first.seal("x")) == "x"
    assert list(tmp_path.iterdir()) == [tmp_path / KEY_FILE]  # no temporary file left behind


def test_a_store_without_a_cipher_refuses_a_secret_but_keeps_ordinary_memories(chroma_client: ClientAPI) -> None:
    store = LongTermStore(chroma_client)
    vector = np.full((1, 384), 0.05, dtype=np.float32)
    store.add("ci-al", [MemoryRecord(id="m1", user_id="ci-al", text="I like tea.")], vector)
    secret = MemoryRecord(id="m2", user_id="ci-al", text="My PIN is 4821", sensitivity=Sensitivity.ULTRASECRET)
    with pytest.raises(ConfigurationError, match="cannot keep a secret memory"):
        store.add("ci-al", [secret], vector)
    assert store.count("ci-al") == 1


def test_a_sealed_memory_reads_back_whole_through_every_path(long_term: LongTermStore) -> None:
    vector = np.full((1, 384), 0.05, dtype=np.float32)
    secret = MemoryRecord(
        id="m3", user_id="ci-bo", text="My PIN is 4821", reply="Noted.", sensitivity=Sensitivity.SECRET
    )
    long_term.add("ci-bo", [secret], vector)
    stored = long_term.get("ci-bo", "m3")
    assert stored is not None and (stored.text, stored.reply) == (secret.text, secret.reply)
    assert [c.text for c in long_term.search("ci-bo", vector[0], 1)] == ["My PIN is 4821"]
    assert long_term.list_memories("ci-bo")[0].reply == "Noted."


def test_recall_candidates_leave_replies_sealed_and_writing_one_back_keeps_the_reply(long_term: LongTermStore) -> None:
    # recall never shows a reply, so its candidates skip decrypting them; a record read that way and written back
    # (its metadata rewritten) must still hold the reply it was stored with
    vector = np.full((1, 384), 0.05, dtype=np.float32)
    long_term.add(
        "ci-bo", [MemoryRecord(id="m4", user_id="ci-bo", text="I walk the dog at six", reply="Lovely.")], vector
    )
    [candidate] = long_term.search("ci-bo", vector[0], 1)
    assert candidate.text == "I walk the dog at six" and candidate.metadata["reply"].startswith(SEALED_PREFIX)
    [by_id] = long_term.candidates_by_id("ci-bo", ["m4"], vector[0])
    assert by_id.metadata["reply"] == candidate.metadata["reply"]
    record, _ = long_term.get_with_embeddings("ci-bo", ["m4"], open_replies=False)["m4"]
    long_term.update_metadata("ci-bo", [replace(record, importance=700)])
    stored = long_term.get("ci-bo", "m4")
    assert stored is not None and (stored.reply, stored.importance) == ("Lovely.", 700)
