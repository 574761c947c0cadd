"""An admin's review of an injection incident: a false positive loses its offence and its mood penalty.

``SecurityStore.mark_false_positive`` removes the offence (and the cooldown or block it caused); this takes back the
PAD penalty the message cost the companion's mood toward the user, so a user wrongly taken for an attacker is not
left with a colder companion. Marking an incident twice changes nothing more.
"""

from __future__ import annotations

import time
from typing import Any

from companion.core.personality.appraisal import appraise_false_positive
from companion.core.personality.state import PersonalityData, PersonalityState, apply_appraisal
from memory.personality_store import PersonalityStore, fingerprint
from memory.security import SecurityStore


async def review_false_positive(
    security: SecurityStore,
    personalities: PersonalityStore,
    incident_id: str,
    *,
    persona: str,
    now: float | None = None,
) -> dict[str, Any] | None:
    """Mark the incident a false positive and take back its mood penalty; ``None`` if there is no such incident.

    Returns the reviewed incident with ``offences_7d_now`` and ``mood_restored`` (whether a penalty was taken back).
    """
    before = await security.incident(incident_id)
    if before is None:
        return None
    reviewed = await security.mark_false_positive(incident_id)
    if reviewed is None:
        return None
    restored = False
    appraisal = appraise_false_positive(str(before.get("kind") or "injection_attempt"), str(before.get("severity")))
    if appraisal is not None and before.get("review") != "false_positive":
        user_id, at = str(before["user_id"]), time.time() if now is None else now
        loaded, _ = await personalities.load(user_id, persona)
        if loaded is not None:

            def take_back(current: PersonalityData) -> PersonalityData:
                state = PersonalityState.from_dict(current)
                return apply_appraisal(
                    state, appraisal, now=max(at, state.updated_at), rates=personalities.rates
                ).state.to_dict()

            await personalities.update(
                user_id, persona, loaded=fingerprint(loaded), updated=take_back(loaded), redo=take_back
            )
            restored = True
    return reviewed | {"mood_restored": restored}
