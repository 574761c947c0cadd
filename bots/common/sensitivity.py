"""Which memories may be used in a group reply.

Memory classification (design seed 002: general < confidential < secret < ultrasecret) does not exist yet. This
module reads a ``sensitivity`` metadata value on a memory when one is present and withholds a group reply that
drew on a memory of level ``confidential`` or above. Until a classifier writes that value, memories carry none
and nothing is withheld; the filter becomes effective as soon as classification lands, with no change here.
An unknown level counts as confidential (fail closed).
"""

from __future__ import annotations

from collections.abc import Sequence

from memory.long_term import LongTermStore

SENSITIVITY_KEY = "sensitivity"
LEVELS = {"general": 1, "public": 1, "chronological": 1, "confidential": 2, "secret": 3, "ultrasecret": 4}
GROUP_MAX_LEVEL = LEVELS["general"]
UNKNOWN_LEVEL = LEVELS["confidential"]


def sensitivity_level(value: object) -> int:
    """The numeric level of a stored sensitivity value (``None``: unclassified, level 1)."""
    if value is None or value == "":
        return LEVELS["general"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return LEVELS.get(str(value).strip().lower(), UNKNOWN_LEVEL)


def sensitive_memories(long_term: LongTermStore, user_id: str, memory_ids: Sequence[str]) -> list[str]:
    """The ids among ``memory_ids`` (of ``user_id``) too sensitive for a group reply.

    Reads the raw metadata through ``LongTermStore``'s own per-user collection resolver, so user isolation holds;
    ``MemoryRecord`` has no sensitivity field yet (see the module docstring).
    """
    if not memory_ids:
        return []
    collection = long_term._collection(user_id, create=False)  # noqa: SLF001 - the one per-user resolver
    if collection is None:
        return []
    result = collection.get(ids=list(memory_ids), include=["metadatas"])
    metadatas = result.get("metadatas") or []
    blocked = []
    for memory_id, metadata in zip(result["ids"], metadatas, strict=True):
        meta = dict(metadata or {})
        if meta.get("user_id") != user_id:
            continue
        if sensitivity_level(meta.get(SENSITIVITY_KEY)) > GROUP_MAX_LEVEL:
            blocked.append(memory_id)
    return blocked
