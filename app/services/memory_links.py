"""A memory's versions and relations for the API (``memory.links.LinkStore``, scoped to one user)."""

from __future__ import annotations

from typing import Any

from companion.core.errors import NotFoundError, PermissionDeniedError
from companion.services import Services
from memory.links import relation_to_dict, version_to_dict
from memory.records import MemoryRecord
from memory.sensitivity import Sensitivity, allowed_at


def _check_clearance(record: MemoryRecord | None, memory_id: str, clearance: Sensitivity) -> None:
    """``PermissionDeniedError`` if the memory is classified above ``clearance`` (as reading it by id would be)."""
    if record is not None and not allowed_at(record.sensitivity, clearance):
        raise PermissionDeniedError(
            f"memory {memory_id!r} is classified {record.sensitivity.value}; this API key's clearance is "
            f"{clearance.value} (companion keys create --admin --clearance LEVEL)"
        )


def memory_versions(
    services: Services, user_id: str, memory_id: str, *, clearance: Sensitivity = Sensitivity.ULTRASECRET
) -> dict[str, Any]:
    """Every stored version of one memory of ``user_id``, oldest first; ``NotFoundError`` if it never existed."""
    record = services.long_term.get(user_id, memory_id)
    _check_clearance(record, memory_id, clearance)
    versions = services.links.versions(user_id, memory_id)
    if record is None and not versions:
        raise NotFoundError(f"no memory {memory_id!r} for user {user_id!r}")
    return {
        "user_id": user_id,
        "memory_id": memory_id,
        "current_version": None if record is None else record.version,
        "versions": [version_to_dict(version) for version in versions],
    }


def memory_relations(
    services: Services, user_id: str, memory_id: str, *, clearance: Sensitivity = Sensitivity.ULTRASECRET
) -> dict[str, Any]:
    """Relations from one memory of ``user_id``, strongest first, with the related memories' texts.

    A text is ``None`` for a deleted memory or one classified above ``clearance``.
    """
    record = services.long_term.get(user_id, memory_id)
    _check_clearance(record, memory_id, clearance)
    relations = services.links.relations(user_id, memory_id)
    if record is None and not relations:
        raise NotFoundError(f"no memory {memory_id!r} for user {user_id!r}")
    targets = [relation.to_id for relation in relations]
    found = services.long_term.get_with_embeddings(user_id, targets) if targets else {}
    return {
        "user_id": user_id,
        "memory_id": memory_id,
        "relations": [
            {
                **relation_to_dict(relation),
                "to_text": (
                    found[relation.to_id][0].text
                    if relation.to_id in found and allowed_at(found[relation.to_id][0].sensitivity, clearance)
                    else None
                ),
            }
            for relation in relations
        ],
    }
