"""Which memories may be used in a group reply (design seed 002 sensitivity levels, ``memory.sensitivity``).

Every memory carries a classification (``MemoryRecord.sensitivity``, Chroma metadata key ``sensitivity``). In a
group the turn runs with ``max_sensitivity=GROUP_MAX_LEVEL``, so the graph never hands a memory classified
confidential or above to the reply (``nodes.conversation.retrieve_memories`` reports them as withheld), and the
bot sends ``GROUP_WITHHELD_REPLY`` instead. :func:`sensitive_memories` re-reads the memories a reply used, as a
second guard (a memory re-classified by association between retrieval and sending). An unknown stored level
counts as confidential (fail closed); the level order is the one in ``memory.sensitivity``.
"""

from __future__ import annotations

from collections.abc import Sequence

from memory.long_term import LongTermStore
from memory.sensitivity import SHARED_MAX_LEVEL, allowed_at, security_level

#: The Chroma metadata key of a memory's classification (``MemoryRecord.to_metadata``).
SENSITIVITY_KEY = "sensitivity"
#: The most sensitive level a group reply may draw on.
GROUP_MAX_LEVEL = SHARED_MAX_LEVEL


def sensitivity_level(value: object) -> int:
    """The seed's security level (1-4) of a stored classification (``None``: unclassified, level 1)."""
    return security_level(value)


def sensitive_memories(long_term: LongTermStore, user_id: str, memory_ids: Sequence[str]) -> list[str]:
    """The ids among ``memory_ids`` (of ``user_id``) too sensitive for a group reply (per-user store reads)."""
    if not memory_ids:
        return []
    records = long_term.get_many(user_id, memory_ids)
    return [record.id for record in records if not allowed_at(record.sensitivity, GROUP_MAX_LEVEL)]
