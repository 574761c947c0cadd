"""The persona and detection prompts: placeholders are exactly the keys the code formats them with."""

import ast
import string
from pathlib import Path

import pytest

import companion.core.personality.prompt
import prompts.detection
import prompts.personality
import prompts.sensitivity
import tools.detection
import tools.sensitivity
from companion.core.personality.persona import load_persona
from companion.core.personality.prompt import persona_system_prompt
from companion.core.personality.quirks import Quirk
from companion.core.personality.state import new_state

T0 = 1_800_000_000.0

#: module of constants -> (module that formats them, expected keys per constant)
EXPECTED: dict[str, tuple[object, object, dict[str, set[str]]]] = {
    "personality": (
        prompts.personality,
        companion.core.personality.prompt,
        {
            "PERSONA_SYSTEM_PROMPT": {
                "name",
                "style",
                "backstory",
                "openness",
                "conscientiousness",
                "extraversion",
                "agreeableness",
                "neuroticism",
                "emotion_label",
                "pleasure",
                "arousal",
                "dominance",
                "user_feeling",
                "quirks_list",
                "needs_summary",
                "memories",
            },
            "QUIRK_ITEM": {"description", "category", "strength"},
            "NEED_ITEM": {"need", "level"},
            "PERSONA_MEMORY_LINE": {"text"},
            "NO_QUIRKS": set(),
            "QUIRKS_SET_ASIDE": set(),
            "USER_FEELING": {"feeling", "intensity"},
            "USER_FEELING_UNCLEAR": set(),
            "CRISIS_CARE_PROMPT": {"situation", "resources"},
            "NO_PRESSING_NEEDS": set(),
            "NO_PERSONA_MEMORIES": set(),
        },
    ),  # fmt: skip
    "detection": (
        prompts.detection,
        tools.detection,
        {"IMPORTANCE_CATEGORY_PROMPT": {"message", "emotion", "intensity"}},
    ),
    "sensitivity": (prompts.sensitivity, tools.sensitivity, {"SENSITIVITY_PROMPT": {"message"}}),
}


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def format_calls(module_file: str, names: set[str]) -> dict[str, list[set[str]]]:
    calls: dict[str, list[set[str]]] = {}
    for node in ast.walk(ast.parse(Path(module_file).read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in names
        ):
            assert not node.args and all(k.arg is not None for k in node.keywords)
            calls.setdefault(node.func.value.id, []).append({str(k.arg) for k in node.keywords})
    return calls


@pytest.mark.parametrize("group", sorted(EXPECTED))
def test_every_prompt_constant_is_covered_and_formatted_with_its_keys(group: str) -> None:
    constants, user, expected = EXPECTED[group]
    found = {n for n, v in vars(constants).items() if n.isupper() and isinstance(v, str)}
    assert found == set(expected)
    calls = format_calls(user.__file__, set(expected))  # type: ignore[attr-defined]
    for name, keys in expected.items():
        assert placeholders(getattr(constants, name)) == keys
        if keys:
            assert calls.get(name), f"{name} is never formatted"
        for passed in calls.get(name, []):
            assert passed == keys


def test_the_persona_prompt_is_filled_from_persona_mood_needs_quirks_and_memories() -> None:
    persona = load_persona("sage")
    state = new_state("alice", persona, T0)
    state = state.__class__(
        **{
            **{f: getattr(state, f) for f in state.__dataclass_fields__},
            "needs": {**state.needs, "social": 0.95, "rest": 0.75},
            "quirks": (
                Quirk(
                    name="uses_emoji", description="uses emoji now and then", strength=0.3, confidence=0.9,
                    created_at=T0, last_reinforced=T0, category="speech_pattern",
                ),
            ),
        }
    )  # fmt: skip
    text = persona_system_prompt(persona, state, ["I have a cat called Miso."])
    assert text.startswith("You are Sage,")
    assert persona.style in text and persona.backstory in text
    assert "- Openness: 0.70" in text and "- Neuroticism: 0.15" in text
    assert f"CURRENT EMOTIONAL STATE: {persona.baseline.label}" in text
    assert "DEVELOPED QUIRKS: uses emoji now and then (speech pattern, strength: 0.3)" in text
    assert "CURRENT NEEDS: social (0.9), rest (0.8)" in text  # only needs above 0.7, most pressing first
    assert "- I have a cat called Miso." in text
    assert "{" not in text and "}" not in text


def test_a_fresh_state_says_no_quirks_and_no_pressing_needs() -> None:
    persona = load_persona("default")
    text = persona_system_prompt(persona, new_state("bob", persona, T0), [])
    assert "DEVELOPED QUIRKS: None yet" in text
    assert "CURRENT NEEDS: All needs satisfied" in text
    assert "(nothing relevant yet)" in text


def test_the_prompt_puts_a_grieving_users_feeling_before_the_companions_exuberance() -> None:
    persona = load_persona("default")
    state = new_state("bob", persona, T0)
    assert state.mood.label == "exuberant"
    text = persona_system_prompt(persona, state, [], user_emotions={"sadness": 90, "neutral": 26})
    assert "HOW THE USER SEEMS RIGHT NOW: sad (intensity 90)" in text
    assert "be gentle and calm whatever your own mood" in text
    assert "Let your current emotional state influence your tone" not in text
    assert "no strong feeling detected" in persona_system_prompt(persona, state, [], user_emotions={"neutral": 80})


def test_a_crisis_sets_quirks_aside_and_gives_the_configured_resources() -> None:
    persona = load_persona("sage")
    state = new_state("alice", persona, T0)
    state = state.__class__(
        **{
            **{f: getattr(state, f) for f in state.__dataclass_fields__},
            "quirks": (
                Quirk(
                    name="uses_emoji", description="uses emoji now and then", strength=0.3, confidence=0.9,
                    created_at=T0, last_reinforced=T0,
                ),
            ),
        }
    )  # fmt: skip
    resources = "Call the Example Line on 000-EXAMPLE."
    text = persona_system_prompt(persona, state, [], crisis="self_harm", crisis_resources=resources)
    assert "uses emoji" not in text and "DEVELOPED QUIRKS: None this turn" in text
    assert "THIS TURN NEEDS CARE" in text and "harming themselves" in text and resources in text
    assert "Never invent a phone number" in text
    assert "THIS TURN NEEDS CARE" not in persona_system_prompt(persona, state, [])
