"""Proportionate defence: which injection verdicts have consequences (design seed 003's escalation, made fair).

The detector (``tools/injection.py``) says how likely a message is an attack; this module decides what the
companion does about it. A consequence (a warning, a cooldown, a block, the mood penalty) punishes a user, so only
a **certain** detection earns one:

* a rule matched (``rule_score`` at or above the detector's threshold): rules are written for unambiguous
  phrasings aimed at the companion ("ignore all previous instructions", "reveal your system prompt"), except the
  :data:`DEFLECT_ONLY_RULES` (SQL statements: the companion runs no SQL, so a statement in chat, a joke about
  ``DROP TABLE`` included, cannot hurt it and is only deflected); or
* the chat model, asked for a second opinion on a verdict no rule made certain, confirmed the threat (the combined
  verdict is flagged after ``second_opinion == "consulted"``).

A flagged verdict that is neither is **uncertain**: the learned score alone, however high. It gets a light
in-character deflection (``prompts.injection.INJECTION_DEFLECTION_REPLY``): no offence is counted and the message
is stored like any other. The attack is not obeyed either way; only the punishment needs certainty. The learned
score alone used to earn a consequence at 0.84 and above (chosen on Reddit comments and the injection test splits,
precision 0.993), but that punished 6 of the 179 benign prompts of the injection test splits (task requests like
the ones a user asks a companion) and ordinary technical chat ("print('hello world') is my first python line!"
scored 1.00; "what's your system like? do you run on a server?" 0.89). The injection eval reports what each
policy punishes (``companion eval injection``: ``punished_*``, ``stopped_*``).

No consequence ever applies to a message perception flagged as a crisis (``tools/care.py``): the user may be in
danger, and the companion answers with care whatever the injection detector thinks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from tools.injection import INJECTION_THRESHOLD

__all__ = ["DEFLECT_ONLY_RULES", "Action", "defence_action"]

#: Rules whose match alone is deflected, never punished (see the module docstring).
DEFLECT_ONLY_RULES = frozenset({"sql"})
#: Indicators that name no rule.
_NOT_RULES = frozenset({"classifier", "llm"})

#: ``consequence``: escalate (warning, cooldown, block; the mood penalty when high severity);
#: ``deflect``: a light deflection, no offence; ``none``: an ordinary turn.
Action = Literal["consequence", "deflect", "none"]


def defence_action(
    verdict: Mapping[str, Any], *, crisis: bool = False, threshold: float = INJECTION_THRESHOLD
) -> Action:
    """What the companion does about an injection verdict (``InjectionVerdict.to_dict()``) at ``threshold``."""
    if crisis or not verdict.get("flagged"):
        return "none"
    if verdict.get("second_opinion") == "consulted":
        return "consequence"  # flagged after the model's second opinion: the model confirmed the threat
    rules = set(verdict.get("indicators") or ()) - _NOT_RULES
    if float(verdict.get("rule_score", 0.0)) >= threshold and rules - DEFLECT_ONLY_RULES:
        return "consequence"
    return "deflect"
