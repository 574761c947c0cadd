"""The reflection and proactive prompts: each one's placeholders are exactly the keys the code formats it with."""

import ast
import string
from pathlib import Path
from typing import Any

import pytest

import nodes.proactive
import nodes.reflection
import prompts.proactive
import prompts.reflection
import tools.clarification

#: prompt constant -> (module that formats it, expected keys)
EXPECTED: dict[str, tuple[Any, set[str]]] = {
    "CONSOLIDATION_PROMPT": (nodes.reflection, {"memories"}),
    "CONSOLIDATION_LINE": (nodes.reflection, {"when", "text"}),
    "CONFLICT_CHECK_PROMPT": (nodes.reflection, {"older", "newer", "older_when", "newer_when"}),
    "CLARIFICATION_QUESTION": (nodes.reflection, {"older", "newer"}),
    "CLARIFICATION_ASK": (tools.clarification, {"question"}),
    "OFFLINE_CLARIFICATION": (tools.clarification, {"question"}),
    "CLARIFICATION_ANSWER_PROMPT": (tools.clarification, {"older", "newer", "question", "answer"}),
    "INSIGHTS_REPORT_PROMPT": (nodes.reflection, {"findings"}),
    "NEED_STARTERS": (nodes.proactive, set()),
    "MEMORY_STARTERS": (nodes.proactive, {"memory"}),
    "TIME_STARTERS": (nodes.proactive, {"part_of_day"}),
    "PERSONALISE_STARTER_PROMPT": (nodes.proactive, {"persona", "trigger", "draft", "detail"}),
    "NEED_DETAIL": (nodes.proactive, {"need"}),
    "MEMORY_DETAIL": (nodes.proactive, {"memory"}),
    "TIME_DETAIL": (nodes.proactive, {"part_of_day"}),
    "CHECK_IN_STARTERS": (nodes.proactive, set()),
    "CHECK_IN_DETAIL": (nodes.proactive, set()),
}


def constants() -> dict[str, Any]:
    found = {}
    for module in (prompts.reflection, prompts.proactive):
        found.update({name: value for name, value in vars(module).items() if name.isupper()})
    return found


def texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in texts(item)]
    return [text for item in value for text in texts(item)]


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def format_calls(module: Any, name: str) -> list[set[str]]:
    """Keyword sets of every ``NAME.format(...)`` / ``NAME[...].format(...)`` call in the module."""
    calls = []
    for node in ast.walk(ast.parse(Path(module.__file__).read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"):
            continue
        target = node.func.value
        if isinstance(target, ast.Subscript):
            target = target.value
        if isinstance(target, ast.Name) and target.id == name:
            assert not node.args and all(k.arg for k in node.keywords)
            calls.append({str(k.arg) for k in node.keywords})
    return calls


def test_every_prompt_constant_is_covered() -> None:
    assert set(constants()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_placeholders_match_the_keys_the_nodes_pass(name: str) -> None:
    module, keys = EXPECTED[name]
    for template in texts(constants()[name]):
        assert placeholders(template) == keys
        formatted = template.format(**{key: f"<{key}>" for key in keys})
        assert "{" not in formatted and "}" not in formatted
    calls = format_calls(module, name)
    if keys:
        assert calls, f"{name} has placeholders but {module.__name__} never formats it"
    assert all(call == keys for call in calls)


def test_need_starters_cover_the_seed_needs() -> None:
    assert set(prompts.proactive.NEED_STARTERS) == {"social", "validation", "intellectual", "creative", "rest"}
    assert prompts.proactive.NEED_STARTERS["social"][0].startswith("Hey! I was thinking about you")
