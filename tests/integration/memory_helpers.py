"""Checks on a user's stored memories shared by the memory-quality tests."""

from collections.abc import Sequence

from memory.records import MemoryRecord, normalised_content


def contained_pairs(memories: Sequence[MemoryRecord]) -> list[tuple[str, str]]:
    """Every (text, other text) pair of ``memories`` where one's normalised content is inside another's."""
    contents = [normalised_content(record.text) for record in memories]
    return [
        (memories[i].text, memories[j].text)
        for i in range(len(memories))
        for j in range(len(memories))
        if i != j and contents[i] in contents[j]
    ]
