"""What every graph's run context holds: the user the run is for."""

from __future__ import annotations

from dataclasses import dataclass

from companion.core.errors import MissingContextError

MISSING_USER_ID = (
    'the run\'s context has no user_id: pass one, e.g. {"user_id": "alice"} '
    "(LangGraph Studio: the Context panel; the SDK: context=...)"
)


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """Per-run configuration shared by every graph's ``Context``: plain values only (Studio renders its JSON schema).

    ``user_id`` is required. Its default (``""``) exists only so that a run without it (Studio's empty Context
    panel, an SDK call without ``context``) fails with ``MISSING_USER_ID`` rather than a ``TypeError``.
    """

    user_id: str = ""

    def __post_init__(self) -> None:
        if not self.user_id:
            raise MissingContextError(MISSING_USER_ID)
