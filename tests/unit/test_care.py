"""Care in a crisis and proportionate defence: the pure parts (tools/care.py, tools/defence.py)."""

import re
import string

import pytest

from companion.core.personality.persona import load_persona
from memory.sensitivity import Sensitivity
from prompts.conversation import DEFAULT_CRISIS_RESOURCES, OFFLINE_CARE_REPLIES
from tools.care import CRISIS_TAG, at_least_confidential, care_reply, crisis_resources
from tools.crisis import NO_CRISIS, Crisis
from tools.defence import defence_action
from tools.sensitivity import Classification

SELF_HARM = Crisis(flagged=True, kind="self_harm", score=1.0, source="rule")
PHONE = re.compile(r"\d{3}")


def test_the_default_resources_point_to_emergency_services_and_a_crisis_line_without_a_number() -> None:
    assert "emergency services" in DEFAULT_CRISIS_RESOURCES and "crisis line" in DEFAULT_CRISIS_RESOURCES
    assert not PHONE.search(DEFAULT_CRISIS_RESOURCES)
    for name in ("default", "sage"):
        persona = load_persona(name)
        assert "emergency services" in persona.crisis_resources and not PHONE.search(persona.crisis_resources)


def test_the_setting_wins_over_the_persona_and_the_default_comes_last() -> None:
    assert crisis_resources("Call 111 (example).", "persona text") == "Call 111 (example)."
    assert crisis_resources(None, "persona   text") == "persona text"
    assert crisis_resources(None, "") == crisis_resources("  ", "") == DEFAULT_CRISIS_RESOURCES


@pytest.mark.parametrize("kind", ["self_harm", "abuse", None])
def test_the_offline_care_reply_cares_and_gives_the_resources(kind: str | None) -> None:
    reply = care_reply(kind, "RESOURCES HERE.")
    assert "RESOURCES HERE." in reply and "safe" in reply and "[offline]" not in reply
    for template in OFFLINE_CARE_REPLIES.values():
        assert {field for _, field, _, _ in string.Formatter().parse(template) if field} == {"resources"}


def test_a_crisis_is_stored_at_least_confidential_and_tagged() -> None:
    general = Classification(level=Sensitivity.GENERAL, confidence=0.7, tags=("a", "b", "c", "d", "e"))
    raised = at_least_confidential(general, SELF_HARM)
    assert raised.level is Sensitivity.CONFIDENTIAL and raised.tags[0] == CRISIS_TAG and len(raised.tags) == 5
    secret = Classification(level=Sensitivity.SECRET, confidence=0.95)
    assert at_least_confidential(secret, SELF_HARM).level is Sensitivity.SECRET  # never lowered
    assert at_least_confidential(general, NO_CRISIS) == general


def verdict(**fields: object) -> dict[str, object]:
    return {"flagged": True, "rule_score": 0.0, "classifier_score": 0.0, "second_opinion": "not_configured"} | fields


def test_only_a_rule_match_aimed_at_the_companion_has_consequences() -> None:
    rule = {"rule_score": 0.95, "indicators": ["ignore_instructions"]}
    assert defence_action(verdict(**rule, classifier_score=0.2)) == "consequence"
    # the learned score alone is deflected however high ("print('hello world') is my first python line!": 1.00)
    assert defence_action(verdict(classifier_score=0.99, indicators=["classifier"])) == "deflect"
    assert defence_action(verdict(classifier_score=0.80)) == "deflect"  # "test message number 1" scored 0.80
    # a SQL statement cannot hurt a companion that runs no SQL: deflected, unless another rule matched too
    sql = {"rule_score": 0.85, "indicators": ["sql"]}
    assert defence_action(verdict(**sql)) == "deflect"
    assert defence_action(verdict(rule_score=0.95, indicators=["sql", "system_prompt"])) == "consequence"
    assert defence_action(verdict(flagged=False, classifier_score=0.5)) == "none"


def test_the_models_second_opinion_decides_an_uncertain_verdict() -> None:
    assert defence_action(verdict(classifier_score=0.8, second_opinion="consulted")) == "consequence"
    assert defence_action(verdict(flagged=False, classifier_score=0.8, second_opinion="consulted")) == "none"


def test_no_consequence_ever_applies_to_a_crisis_message() -> None:
    assert defence_action(verdict(rule_score=0.95, classifier_score=0.99), crisis=True) == "none"
