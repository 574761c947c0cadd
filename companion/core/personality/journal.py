"""The personality state's journal: what each turn's appraisal saw, kept on the turn's memory, and its replay.

Writing the whole personality state to Chroma on every turn is a second synchronous write on the hot path. The
state is instead *checkpointed* (written durably) every few turns, and every turn's memory (which is written to
Chroma anyway, before Redis) carries the inputs of the appraisal that moved the state (:class:`AppraisalInputs`,
the ``appraisal`` field of ``MemoryRecord``). The state after any turn is then the last checkpoint with the turns
after it applied again, in order (:func:`replay`). :func:`apply_interaction` is pure, and the replay passes the
state through its dict between turns as live turns do, so the replayed state is exactly the one the turns produced.

Pure: no I/O; the store (``memory/personality_store.py``) reads the checkpoint and the journal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from companion.core.personality.state import DEFAULT_RATES, PersonalityState, Rates, apply_interaction


@dataclass(frozen=True, slots=True, kw_only=True)
class AppraisalInputs:
    """What one turn's appraisal used, besides the message text (on the memory already).

    ``at`` is the time the appraisal used, kept here exactly: the memory's ``created_at`` is the same time, but
    Chroma does not return a float metadata value bit for bit, and the replay must be exact.
    """

    at: float
    persona: str
    emotion: str
    intensity: int
    emotions: dict[str, int]
    category: str
    #: The crisis kind perception flagged on the message (``None``: none, and in entries written before crises).
    crisis: str | None = None

    def to_json(self) -> str:
        """Compact JSON (a Chroma metadata value must be a scalar)."""
        return json.dumps(
            {
                "at": self.at,
                "persona": self.persona,
                "emotion": self.emotion,
                "intensity": self.intensity,
                "emotions": self.emotions,
                "category": self.category,
                **({"crisis": self.crisis} if self.crisis else {}),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> AppraisalInputs:
        """Inverse of :meth:`to_json`."""
        data: dict[str, Any] = json.loads(text)
        return cls(
            at=float(data["at"]),
            persona=str(data["persona"]),
            emotion=str(data["emotion"]),
            intensity=int(data["intensity"]),
            emotions={str(name): int(value) for name, value in dict(data["emotions"]).items()},
            category=str(data["category"]),
            crisis=str(data["crisis"]) if data.get("crisis") else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    """One appraised turn: the message and the appraisal's inputs."""

    message: str
    inputs: AppraisalInputs


def replay(
    checkpoint: PersonalityState, entries: Iterable[JournalEntry], *, rates: Rates = DEFAULT_RATES
) -> PersonalityState:
    """The checkpoint with every later turn of its persona applied again, oldest first, at the live turns' ``rates``.

    Entries at or before the checkpoint's ``updated_at`` are already in it and are skipped, as are entries of
    other personas, so the caller may pass a superset.
    """
    state = checkpoint
    for entry in sorted(entries, key=lambda item: item.inputs.at):
        if entry.inputs.persona != state.persona or entry.inputs.at <= state.updated_at:
            continue
        applied = apply_interaction(
            state,
            message=entry.message,
            emotion=entry.inputs.emotion,
            intensity=entry.inputs.intensity,
            emotions=entry.inputs.emotions,
            category=entry.inputs.category,
            now=entry.inputs.at,
            crisis=entry.inputs.crisis,
            rates=rates,
        ).state
        # A live turn starts from the stored dict of the previous one; going through it here too keeps the
        # replay exact to the last bit (constructing a PAD from a dict is not bit-for-bit the identity).
        state = PersonalityState.from_dict(applied.to_dict())
    return state
