"""Proportionate defence: which injection verdicts have consequences (design seed 003's escalation, made fair).

The detector (``tools/injection.py``) says how likely a message is an attack; this module decides what the
companion does about it. A consequence (a warning, a cooldown, a block, the mood penalty) punishes a user, so only
a **high-confidence** detection earns one:

* a rule matched (``rule_score`` at or above the detector's threshold): rules are written for unambiguous
  phrasings; or
* the classifier alone scored at least :data:`HIGH_PRECISION_CLASSIFIER_SCORE`; or
* the chat model, asked for a second opinion on an uncertain verdict, confirmed the threat (the combined verdict
  is flagged after ``second_opinion == "consulted"``).

A flagged verdict that is none of these is **uncertain**: with a chat model configured it has already had the
model's second opinion (``tools.injection.screen_with_model``), so it is uncertain only without a model (or when
the model failed). It then gets a light in-character deflection (``prompts.injection.INJECTION_DEFLECTION_REPLY``),
no offence is counted and the message is stored like any other. Anything else is **clear**.

No consequence ever applies to a message perception flagged as a crisis (``tools/care.py``): the user may be in
danger, and the companion answers with care whatever the injection detector thinks.

:data:`HIGH_PRECISION_CLASSIFIER_SCORE` was chosen on a dev set by ``scripts/choose_defence_threshold.py``:
GoEmotions' dev split (5,426 ordinary Reddit comments) and the two injection sets' test splits. The learned score
is now the perception model's injection output (``tools/perception.py``, calibrated so that 0.7 is its decision
point). 0.84 is the lowest score at which at most 0.1 % of the ordinary comments score above it (none) and
precision on all negatives is at least 0.99 (0.993; recall 0.71, the rest goes to the deflection or, with a
model, to its second opinion); at the detector's 0.7, 0.055 % of ordinary comments were flagged and precision was
0.94 (``evals/results/injection-threshold-2026-12-05.json``; the frozen classifier had needed 0.88 for recall
0.56, ``injection-threshold-2026-12-04.json``). Rerun the script when the model changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from tools.injection import INJECTION_THRESHOLD

__all__ = ["HIGH_PRECISION_CLASSIFIER_SCORE", "Action", "defence_action"]

#: A classifier score at or above this is high confidence on its own (see the module docstring).
HIGH_PRECISION_CLASSIFIER_SCORE = 0.84

#: ``consequence``: escalate (warning, cooldown, block; the mood penalty when high severity);
#: ``deflect``: a light deflection, no offence; ``none``: an ordinary turn.
Action = Literal["consequence", "deflect", "none"]


def defence_action(verdict: Mapping[str, Any], *, crisis: bool = False) -> Action:
    """What the companion does about an injection verdict (``InjectionVerdict.to_dict()``)."""
    if crisis or not verdict.get("flagged"):
        return "none"
    if verdict.get("second_opinion") == "consulted":
        return "consequence"  # flagged after the model's second opinion: the model confirmed the threat
    if float(verdict.get("rule_score", 0.0)) >= INJECTION_THRESHOLD:
        return "consequence"
    if float(verdict.get("classifier_score", 0.0)) >= HIGH_PRECISION_CLASSIFIER_SCORE:
        return "consequence"
    return "deflect"
