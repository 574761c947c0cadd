"""Care in a crisis: what the companion does when perception flags a crisis (``tools/crisis.py``).

The conversation graph, on a message whose ``Detection.crisis`` is flagged:

* answers with care and points to help (:func:`care_reply` offline; the chat model gets the persona prompt's
  ``CRISIS_CARE_PROMPT``), with quirks and playfulness set aside for the turn;
* stores the memory at least ``confidential`` (:func:`at_least_confidential`), so it is never recalled in a shared
  context (a group chat, REST ``shared: true``);
* counts no injection offence and applies no consequence of the injection guard to it (``nodes/injection.py``);
* logs the incident for admins without its text and counts it (``memory/security.py``; the app's metric
  ``companion_crisis_messages``), and plans a gentle check-in within 24 hours (``memory/outreach.py``), which
  the proactive engine sends within its guardrails.

Where to point the user (:func:`crisis_resources`): the ``COMPANION_CRISIS_RESOURCES`` setting (a deployment's
checked local lines), else the persona file's ``crisis_resources``, else :data:`DEFAULT_CRISIS_RESOURCES`, which
names no number: a made-up or foreign number is worse than none.
"""

from __future__ import annotations

from dataclasses import replace

from memory.sensitivity import MAX_TAGS, SECURITY_LEVELS, Sensitivity
from prompts.conversation import DEFAULT_CRISIS_RESOURCES, OFFLINE_CARE_REPLIES
from tools.crisis import Crisis
from tools.sensitivity import Classification

__all__ = [
    "CHECK_IN_AFTER_HOURS",
    "CHECK_IN_WITHIN_HOURS",
    "CRISIS_TAG",
    "DEFAULT_CRISIS_RESOURCES",
    "at_least_confidential",
    "care_reply",
    "crisis_resources",
]

#: A check-in after a crisis is due this long after the message (time to breathe; the guardrails add theirs) ...
CHECK_IN_AFTER_HOURS = 3.0
#: ... and is dropped if the guardrails kept it from going out within this long.
CHECK_IN_WITHIN_HOURS = 24.0

#: Tag added to a crisis message's sensitivity classification.
CRISIS_TAG = "crisis"


def crisis_resources(setting: str | None, persona_resources: str = "") -> str:
    """The setting's text, else the persona's, else the default (which names no number)."""
    for text in (setting, persona_resources):
        if text and text.strip():
            return " ".join(text.split())
    return DEFAULT_CRISIS_RESOURCES


def care_reply(kind: str | None, resources: str) -> str:
    """The offline responder's reply to a crisis message of ``kind`` (``self_harm`` or ``abuse``)."""
    template = OFFLINE_CARE_REPLIES.get(kind or "self_harm", OFFLINE_CARE_REPLIES["self_harm"])
    return template.format(resources=resources)


def at_least_confidential(classification: Classification, crisis: Crisis) -> Classification:
    """The classification raised to ``confidential`` (and tagged) when ``crisis`` is flagged, else unchanged."""
    if not crisis.flagged:
        return classification
    tags = (CRISIS_TAG, *(tag for tag in classification.tags if tag != CRISIS_TAG))[:MAX_TAGS]
    reasons = (*classification.reasons, f"crisis ({crisis.kind}): kept at least confidential")
    if SECURITY_LEVELS[classification.level] >= SECURITY_LEVELS[Sensitivity.CONFIDENTIAL]:
        return replace(classification, tags=tags, reasons=reasons)
    return replace(
        classification,
        level=Sensitivity.CONFIDENTIAL,
        confidence=max(classification.confidence, crisis.score),
        tags=tags,
        reasons=reasons,
    )
