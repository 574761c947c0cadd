"""One copy: when is a new memory the same content as one the user already has? Pure rules, no I/O.

The same message can reach long-term memory by several paths: the chat turn, the group chat's memory implicator
(whose copy of a message addressed to the bot still opens with the mention), a transcript sent twice in other
files. Two texts are the same content when

- their content hashes are equal (``memory.records.content_hash``: leading mentions removed, case-folded, white
  space collapsed, trailing dots and exclamation marks dropped), or
- they are near duplicates: cosine similarity of their embeddings at least ``NEAR_DUPLICATE_SIMILARITY`` and one
  normalised text contains the other ("My dog is Rex" / "my dog is Rex!!" / "@bot my dog is Rex").
"""

from __future__ import annotations

from memory.records import normalised_content

__all__ = ["NEAR_DUPLICATE_SIMILARITY", "is_near_duplicate"]

NEAR_DUPLICATE_SIMILARITY = 0.9
"""Cosine similarity from which a text containing the other is a copy of it, not a new message.

A longer message that merely opens with a short one ("ok" / "ok, and my sister is visiting") is far below it with
this project's embedder (all-MiniLM-L6-v2); a copy with a mention, an emoji or a different case is above 0.9."""


def is_near_duplicate(first: str, second: str, similarity: float) -> bool:
    """Whether ``first`` and ``second`` (with the cosine ``similarity`` of their embeddings) are one content."""
    a, b = normalised_content(first), normalised_content(second)
    if not a or not b:
        return False
    if a == b:
        return True
    return similarity >= NEAR_DUPLICATE_SIMILARITY and (a in b or b in a)
