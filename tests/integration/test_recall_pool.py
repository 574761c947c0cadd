"""Recall's candidate pool: a wider pool lets the lexical term lift a memory the embedding ranks low. Real Chroma
and the real embedder."""

import numpy as np

from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.records import MemoryRecord
from tools.recall import distinct_texts, recall
from tools.retrieval import Candidate

QUERY = "Any news about Miso?"
NEAR = [  # close to the question's shape; none names its rare word
    "Any news from you?",
    "Any news today?",
    "Is there any news?",
    "Any updates for me?",
    "What is the latest news?",
    "Any good news lately?",
]
FAR = "Miso knocked a glass off the kitchen table."


def test_a_wider_pool_finds_the_memory_that_shares_a_rare_word(long_term: LongTermStore, embedder: Embedder) -> None:
    texts = [*NEAR, FAR]
    records = [MemoryRecord(id=f"pool-{i}", user_id="pool-u", text=text) for i, text in enumerate(texts)]
    long_term.add("pool-u", records, embedder.embed(texts))
    by_cosine = [c.text for c in long_term.search("pool-u", embedder.embed([QUERY])[0], len(texts))]
    assert by_cosine.index(FAR) >= 5  # outside the default pool for k = 1 (5 candidates)

    narrow = recall(long_term, embedder, "pool-u", QUERY, 1)
    wide = recall(long_term, embedder, "pool-u", QUERY, 1, candidates=len(texts))
    assert [s.candidate.text for s in narrow.selected] != [FAR]
    assert [s.candidate.text for s in wide.selected] == [FAR]


def test_a_memory_and_its_same_text_copy_take_one_place(long_term: LongTermStore, embedder: Embedder) -> None:
    texts = ["I adopted a kitten called Miso.", "i adopted a kitten called miso. ", "Miso sleeps on my keyboard."]
    records = [MemoryRecord(id=f"copy-{i}", user_id="copy-u", text=text) for i, text in enumerate(texts)]
    long_term.add("copy-u", records, embedder.embed(texts))
    found = recall(long_term, embedder, "copy-u", "Tell me about my kitten Miso", 3)
    kept = [s.candidate.text.strip().casefold() for s in found.selected]
    assert len(found.selected) == 2 and len(set(kept)) == 2


def test_distinct_texts_keeps_the_first_of_each_text() -> None:
    def cand(memory_id: str, text: str) -> Candidate:
        return Candidate(id=memory_id, text=text, embedding=np.zeros(2), similarity=0.5)

    found = distinct_texts([cand("a", "Hi there"), cand("b", "hi there "), cand("c", "Bye")])
    assert [c.id for c in found] == ["a", "c"]
    # one content said again, addressed to the bot or with other end punctuation; other words are kept
    again = [cand("d", "Good night!"), cand("e", "@companion good night"), cand("f", "Good night, Ana")]
    assert [c.id for c in distinct_texts(again)] == ["d", "f"]
