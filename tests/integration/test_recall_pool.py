"""Recall's candidate pool: a wider pool lets the lexical term lift a memory the embedding ranks low. Real Chroma
and the real embedder."""

from memory.embeddings import Embedder
from memory.long_term import LongTermStore
from memory.records import MemoryRecord
from tools.recall import recall

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
