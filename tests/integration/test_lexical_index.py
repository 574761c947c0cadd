"""The lexical index (memory/lexical.py) on real SQLite, and hybrid recall through a real Chroma and embedder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from chromadb.api import ClientAPI

from companion.core.errors import ConfigurationError
from companion.core.settings import load_settings
from companion.services import open_lexical_index
from memory import lexical
from memory.embeddings import Embedder
from memory.lexical import LexicalIndex
from memory.long_term import LongTermStore
from memory.records import MemoryRecord
from tools.recall import recall


def test_search_ranks_by_bm25_stems_words_and_ignores_function_words(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical")
    index.put(
        "n:ana",
        [
            ("m1", "I went running by the river with Miso"),
            ("m2", "Miso is my cat, Miso loves the river"),  # "miso" twice: ranks first for "miso"
            ("m3", "What a day at work"),
        ],
    )
    assert [memory_id for memory_id, _ in index.search("n:ana", "Where is Miso?", 10)] == ["m2", "m1"]
    assert [memory_id for memory_id, _ in index.search("n:ana", "she runs", 10)] == ["m1"]  # runs ~ running
    assert index.search("n:ana", "what is the", 10) == []  # only function words
    scores = [score for _, score in index.search("n:ana", "Miso river", 10)]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0


def test_owners_never_see_each_others_rows_nor_each_others_word_statistics(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical")
    index.put("n:user-1", [("a", "pottery class on Tuesday"), ("c", "my kiln is new")])
    index.put("n:user.1", [("b", "pottery kiln broke")])  # unicode61 would split both ids into "user", "1"
    assert [m for m, _ in index.search("n:user-1", "pottery", 10)] == ["a"]
    assert [m for m, _ in index.search("n:user.1", "pottery", 10)] == ["b"]
    assert index.count("n:user-1") == 2 and index.ids("n:user.1") == {"b"}
    assert index.path("n:user-1") != index.path("n:user.1")
    # a user's scores are the same whatever another user writes: BM25's statistics are per user
    before = index.search("n:user-1", "pottery kiln", 10)
    index.put("n:user.1", [(f"x{i}", "pottery pottery pottery") for i in range(50)])
    assert index.search("n:user-1", "pottery kiln", 10) == before


def test_put_replaces_text_delete_and_drop_remove(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical")
    index.put("n:u", [("a", "violin lessons"), ("b", "violin concert")])
    index.put("n:u", [("a", "piano lessons")])  # a new text for "a"
    assert [m for m, _ in index.search("n:u", "violin", 10)] == ["b"]
    assert [m for m, _ in index.search("n:u", "piano", 10)] == ["a"]
    index.delete("n:u", ["b"])
    assert index.ids("n:u") == {"a"}
    index.drop("n:u")
    assert index.count("n:u") == 0


def test_drop_deletes_the_owners_file_and_leaves_the_others(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical")
    index.put("n:other", [("o1", "quetzalcoatl is a word the other user also wrote, and keeps")])
    index.put("n:leaving", [(f"m{i}", f"my secret is xylophonist{i} and zanzibarian") for i in range(200)])
    index.put("n:other", [("o2", "an ordinary message")])

    def files() -> bytes:
        return b"".join(file.read_bytes() for file in (tmp_path / "lexical").iterdir())

    assert b"zanzibarian" in files() and b"zanzibarian" not in index.path("n:other").read_bytes()
    index.drop("n:leaving")
    assert not any(f.name.startswith(index.path("n:leaving").name) for f in (tmp_path / "lexical").iterdir())
    assert b"zanzibarian" not in files() and b"xylophonist" not in files()
    assert [m for m, _ in index.search("n:other", "quetzalcoatl", 10)] == ["o1"]  # the others' rows are intact
    assert index.count("n:leaving") == 0 and not index.path("n:leaving").exists()  # a read creates no file


def test_an_open_file_another_process_deleted_is_let_go(tmp_path: Path) -> None:
    worker, api = LexicalIndex(tmp_path / "lexical"), LexicalIndex(tmp_path / "lexical")  # two processes' indexes
    worker.put("n:u", [("m1", "my secret is zanzibarian")])
    assert worker.count("n:u") == 1 and api.count("n:u") == 1  # both have the file open now
    api.drop("n:u")  # the user is erased through the API
    assert worker.count("n:u") == 0 and worker.search("n:u", "zanzibarian", 5) == []
    worker.put("n:u", [("m2", "a new beginning")])  # a later write goes to a new file, which both see
    assert api.ids("n:u") == {"m2"} and worker.ids("n:u") == {"m2"}


def test_only_the_most_recently_used_files_stay_open(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical", open_files=2)
    for user in ("a", "b", "c"):
        index.put(f"n:{user}", [(f"{user}1", f"{user} likes tea")])

    def open_files() -> set[str]:  # this process's open descriptors on the index's database files
        targets = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}
        return {Path(t).name for t in targets if t.startswith(str(tmp_path)) and t.endswith(".sqlite3")}

    assert open_files() == {index.path("n:b").name, index.path("n:c").name}  # "a", least recently used, closed
    assert [m for m, _ in index.search("n:a", "tea", 5)] == ["a1"]  # reopened
    assert open_files() == {index.path("n:c").name, index.path("n:a").name}
    index.close()
    assert open_files() == set()


def memory(user: str, memory_id: str, text: str) -> MemoryRecord:
    return MemoryRecord(id=memory_id, user_id=user, text=text, created_at=time.time())


def test_the_store_mirrors_writes_and_heals_an_index_that_missed_them(
    tmp_path: Path, chroma_client: ClientAPI, embedder: Embedder
) -> None:
    index = LexicalIndex(tmp_path / "lexical")
    plain = LongTermStore(chroma_client)  # another process without the index, or this one before an upgrade
    hybrid = LongTermStore(chroma_client, lexical=index, lexical_check_seconds=0)  # checks before every search
    texts = {"m1": "My sister Ana is getting married in June", "m2": "Pottery class was fun", "m3": "Ana sent photos"}
    records = [memory("u", memory_id, text) for memory_id, text in texts.items()]
    plain.add("u", records, embedder.embed(list(texts.values())))
    assert index.count("u") == 0

    query = embedder.embed(["When is Ana's wedding?"])[0]
    found = hybrid.lexical_search("u", "When is Ana's wedding?", query, 10)
    assert {c.id for c in found} == {"m1", "m3"} and index.count("companion:u") == 3  # healed from Chroma
    assert all(abs(c.similarity - float(query @ c.embedding)) < 1e-5 for c in found)  # cosine to the query
    assert [c.id for c in hybrid.lexical_search("u", "Ana", query, 10, exclude=["m1"])] == ["m3"]

    plain.delete("u", "m3")  # removed behind the index's back
    hybrid.add("u", [memory("u", "m4", "Ana chose the venue")], embedder.embed(["Ana chose the venue"]))
    assert index.ids("companion:u") == {"m1", "m2", "m3", "m4"}  # counts agree (3 + 1 - 0): not yet noticed
    plain.delete("u", "m2")
    assert {c.id for c in hybrid.lexical_search("u", "Ana", query, 10)} == {"m1", "m4"}
    assert index.ids("companion:u") == {"m1", "m4"}

    hybrid.delete("u", "m4")
    assert index.ids("companion:u") == {"m1"}
    hybrid.delete_user("u")
    assert index.count("companion:u") == 0


def test_the_index_is_checked_on_the_first_search_then_when_a_match_is_gone(
    tmp_path: Path, chroma_client: ClientAPI, embedder: Embedder
) -> None:
    index = LexicalIndex(tmp_path / "lexical")
    plain = LongTermStore(chroma_client)  # writes behind the index's back
    hybrid = LongTermStore(chroma_client, lexical=index)  # the default: checked at most every 30 s
    texts = {"m1": "Ana is getting married in June", "m2": "Ana sent photos"}
    plain.add("u", [memory("u", mid, text) for mid, text in texts.items()], embedder.embed(list(texts.values())))
    query = embedder.embed(["Ana"])[0]
    assert {c.id for c in hybrid.lexical_search("u", "Ana", query, 10)} == {"m1", "m2"}  # first search: healed

    plain.add("u", [memory("u", "m3", "Ana chose the venue")], embedder.embed(["Ana chose the venue"]))
    assert {c.id for c in hybrid.lexical_search("u", "Ana", query, 10)} == {"m1", "m2"}  # not checked again yet
    plain.delete("u", "m1")
    assert {c.id for c in hybrid.lexical_search("u", "Ana", query, 10)} == {"m2"}  # a match Chroma no longer has
    assert {c.id for c in hybrid.lexical_search("u", "Ana", query, 10)} == {"m2", "m3"}  # so this search checked
    assert index.ids("companion:u") == {"m2", "m3"}


def test_recall_adds_the_word_match_the_embedding_ranks_out_of_the_pool(
    tmp_path: Path, chroma_client: ClientAPI, embedder: Embedder
) -> None:
    store = LongTermStore(chroma_client, lexical=LexicalIndex(tmp_path / "lexical"))
    kinds = ("on Sundays", "records", "live in bars", "on the radio", "piano", "standards", "festivals", "trios")
    fillers = [f"I love listening to jazz {kind}" for kind in kinds]
    target = "Ines says saxophone solos put her to sleep"  # the one about Ines, in words unlike the question
    texts = [*fillers, target]
    store.add("u", [memory("u", f"m{i}", text) for i, text in enumerate(texts)], embedder.embed(texts))
    question = "What does Ines think of jazz?"
    query = embedder.embed([question])[0]
    assert "m8" not in [c.id for c in store.search("u", query, 5)]  # the embedding leaves it out of a k = 1 pool

    without = recall(store, embedder, "u", question, 1, lexical_candidates=0)
    hybrid = recall(store, embedder, "u", question, 1)
    assert [s.candidate.text for s in without.selected] != [target]
    assert [s.candidate.text for s in hybrid.selected] == [target]
    assert np.allclose(hybrid.query_embedding, query)


def test_an_unusable_index_never_fails_a_write_or_a_recall_and_catches_up_after(
    tmp_path: Path, chroma_client: ClientAPI, embedder: Embedder
) -> None:
    index = LexicalIndex(tmp_path / "lexical")
    store = LongTermStore(chroma_client, lexical=index)
    store.add("u", [memory("u", "m1", "Kalinda works at the bakery")], embedder.embed(["Kalinda works at the bakery"]))
    index.close()  # every call now raises sqlite3.ProgrammingError, like a broken file would raise its own error
    store.add("u", [memory("u", "m2", "Kalinda bakes rye bread")], embedder.embed(["Kalinda bakes rye bread"]))
    assert store.count("u") == 2  # Chroma took the write
    found = recall(store, embedder, "u", "Where does Kalinda work?", 2)
    assert {s.candidate.id for s in found.selected} == {"m1", "m2"}  # by embedding alone

    healed = LongTermStore(chroma_client, lexical=LexicalIndex(tmp_path / "lexical"))
    query = embedder.embed(["rye"])[0]
    assert [c.id for c in healed.lexical_search("u", "rye", query, 5)] == ["m2"]  # the missed write caught up


def test_forgetting_into_the_archive_and_restoring_follow_the_memory_in_and_out_of_the_index(
    tmp_path: Path, chroma_client: ClientAPI, embedder: Embedder
) -> None:
    index = LexicalIndex(tmp_path / "lexical")
    store = LongTermStore(chroma_client, lexical=index)
    archive = LongTermStore(chroma_client, namespace="archive-test")  # the archive has no lexical search
    texts = {"m1": "Kalinda works at the bakery", "m2": "Kalinda bakes rye bread"}
    store.add("u", [memory("u", mid, text) for mid, text in texts.items()], embedder.embed(list(texts.values())))
    query = embedder.embed(["rye"])[0]
    assert [c.id for c in store.lexical_search("u", "rye", query, 5)] == ["m2"]

    assert store.move("u", ["m2"], archive) == 1  # faded: archived
    assert index.ids("companion:u") == {"m1"} and store.lexical_search("u", "rye", query, 5) == []
    assert archive.move("u", ["m2"], store) == 1  # restored (an upsert into the store)
    assert index.ids("companion:u") == {"m1", "m2"}
    assert [c.id for c in store.lexical_search("u", "rye", query, 5)] == ["m2"]


def test_a_user_file_that_is_not_a_database_is_started_afresh_and_rebuilt_from_chroma(
    tmp_path: Path, chroma_client: ClientAPI, embedder: Embedder
) -> None:
    index = LexicalIndex(tmp_path / "lexical")
    store = LongTermStore(chroma_client, lexical=index)
    store.add("u", [memory("u", "m1", "Kalinda works at the bakery")], embedder.embed(["Kalinda works at the bakery"]))
    index.path("companion:u").write_bytes(b"this is not an SQLite file" * 100)  # a disk fault
    query = embedder.embed(["bakery"])[0]
    assert [c.id for c in store.lexical_search("u", "bakery", query, 5)] == ["m1"]


def test_an_index_directory_that_cannot_be_made_is_a_one_line_error_naming_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "lexical").write_bytes(b"a file where the directory should be")
    with pytest.raises(ConfigurationError, match="cannot open the lexical index .* COMPANION_LEXICAL_INDEX=false"):
        open_lexical_index(load_settings(data_dir=tmp_path))
    assert open_lexical_index(load_settings(data_dir=tmp_path, lexical_index=False)) is None


def test_the_single_file_of_earlier_versions_is_removed_when_the_index_opens(tmp_path: Path) -> None:
    for name in ("lexical.sqlite3", "lexical.sqlite3-wal"):
        (tmp_path / name).write_bytes(b"every user's words")
    index = open_lexical_index(load_settings(data_dir=tmp_path))
    assert index is not None and index.directory == tmp_path / "lexical"
    assert not (tmp_path / "lexical.sqlite3").exists() and not (tmp_path / "lexical.sqlite3-wal").exists()


def test_a_word_in_too_many_memories_is_left_out_of_the_search_unless_every_word_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lexical, "MAX_TERM_MEMORIES", 2)
    index = LexicalIndex(tmp_path / "lexical")
    texts = ["Feeling tired today", "Walked the dog today", "Rain all day today", "Pottery class today was great"]
    index.put("n:u", [(f"m{i}", text) for i, text in enumerate(texts)])
    index.put("n:u", [("m9", "My pottery teacher retired")])
    # "today" (stemmed "todai") is in four memories, over the cap of two: only "pottery" is searched
    assert {m for m, _ in index.search("n:u", "pottery today", 10)} == {"m3", "m9"}
    # every word over the cap: the rarest is kept, so the search still finds something
    assert {m for m, _ in index.search("n:u", "today", 10)} == {"m0", "m1", "m2", "m3"}
    assert {m for m, _ in index.search("n:u", "Todays", 10)} == {"m0", "m1", "m2", "m3"}  # same stem, same count
    monkeypatch.setattr(lexical, "MAX_TERM_MEMORIES", 10)
    assert {m for m, _ in index.search("n:u", "pottery today", 10)} == {"m0", "m1", "m2", "m3", "m9"}
