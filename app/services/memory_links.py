"""A memory's versions and relations for the API (``memory.links.LinkStore``, scoped to one user)."""

from __future__ import annotations

from typing import Any

from companion.errors import NotFoundError
from companion.services import Services
from memory.links import LinkStore, relation_to_dict, version_to_dict


def memory_versions(services: Services, user_id: str, memory_id: str) -> dict[str, Any]:
    """Every stored version of one memory of ``user_id``, oldest first; ``NotFoundError`` if it never existed."""
    record = services.long_term.get(user_id, memory_id)
    versions = LinkStore(services.chroma).versions(user_id, memory_id)
    if record is None and not versions:
        raise NotFoundError(f"no memory {memory_id!r} for user {user_id!r}")
    return {
        "user_id": user_id,
        "memory_id": memory_id,
        "current_version": None if record is None else record.version,
        "versions": [version_to_dict(version) for version in versions],
    }


def memory_relations(services: Services, user_id: str, memory_id: str) -> dict[str, Any]:
    """Relations from one memory of ``user_id``, strongest first, with the related memories' texts."""
    record = services.long_term.get(user_id, memory_id)
    relations = LinkStore(services.chroma).relations(user_id, memory_id)
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
                "to_text": found[relation.to_id][0].text if relation.to_id in found else None,
            }
            for relation in relations
        ],
    }
