"""The eval prompts' placeholders are exactly the keys the code formats them with."""

import ast
import string
from pathlib import Path

import pytest

import prompts.evals

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = {name: value for name, value in vars(prompts.evals).items() if name.isupper() and isinstance(value, str)}
#: prompt -> (keys, the module that formats it)
EXPECTED: dict[str, tuple[set[str], Path]] = {
    "PERSONA_JUDGE_PROMPT": (
        {"persona_name", "persona_description", "message", "reply", "expectation"},
        ROOT / "evals" / "persona.py",
    ),
    "LOCOMO_ANSWER_PROMPT": ({"memories", "question"}, ROOT / "evals" / "judged_answers.py"),
    "LOCOMO_JUDGE_PROMPT": ({"question", "gold_answer", "generated_answer"}, ROOT / "evals" / "judged_answers.py"),
}


def test_every_eval_prompt_is_covered() -> None:
    assert set(PROMPTS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_eval_prompt_placeholders_match_the_format_call(name: str) -> None:
    keys, module = EXPECTED[name]
    assert {f for _, f, _, _ in string.Formatter().parse(PROMPTS[name]) if f is not None} == keys
    calls = format_calls_in_file(module, name)
    assert calls and all(call == keys for call in calls)
    formatted = PROMPTS[name].format(**{key: f"<{key}>" for key in keys})
    assert "{" not in formatted and all(f"<{key}>" in formatted for key in keys)


def format_calls_in_file(module: Path, name: str) -> list[set[str]]:
    """The keyword sets of every ``NAME.format(...)`` call in ``module``."""
    calls = []
    for node in ast.walk(ast.parse(module.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == name
        ):
            assert not node.args and all(keyword.arg is not None for keyword in node.keywords)
            calls.append({str(keyword.arg) for keyword in node.keywords})
    return calls
