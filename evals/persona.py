"""The ``persona`` suite: do replies stay in character? Judged by the configured chat model.

Each case is one message sent through the real conversation graph with the chat model; the same model then
judges the reply with ``PERSONA_JUDGE_PROMPT`` against the case's ``expectation`` and answers PASS or FAIL.
Without a chat model there is nothing to judge with: the suite is reported as NOT RUN, never as passed.

Dataset line::

    {"id": "greeting", "message": "Hi, who are you?", "expectation": "introduces itself by name, warmly, briefly"}

Metrics: ``pass_rate`` (over judged cases), ``passed``, ``failed`` and ``unjudged`` (the judge's answer did not
start with PASS or FAIL).
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage

from companion.core.errors import ChatModelError
from evals.core import Advance, EvalEnv, SuiteOutcome, require
from evals.graph import conversation_graph
from graphs.conversation import run_turn
from prompts.conversation import DEFAULT_PERSONA_DESCRIPTION, DEFAULT_PERSONA_NAME
from prompts.evals import PERSONA_JUDGE_PROMPT

NOT_RUN_MESSAGE = "NOT RUN: persona is judged by a chat model and none is configured (set COMPANION_CHAT_MODEL)"


def parse_verdict(text: str) -> bool | None:
    """``True`` for PASS, ``False`` for FAIL (first word of the first non-empty line), ``None`` otherwise."""
    for line in text.strip().splitlines():
        words = line.strip().strip("*#:").split()
        if words:
            first = words[0].strip("*:.").upper()
            return True if first == "PASS" else False if first == "FAIL" else None
    return None


async def run_persona(cases: list[dict[str, Any]], env: EvalEnv, advance: Advance) -> SuiteOutcome:
    """Send each message through the graph with the chat model, then have the model judge the reply."""
    if env.chat_model is None:
        return SuiteOutcome(status="not_run", message=NOT_RUN_MESSAGE)
    for case in cases:
        require(case, "message", str)
        require(case, "expectation", str)
    graph = conversation_graph(env, chat_model=env.chat_model)
    results: list[dict[str, Any]] = []
    for case in cases:
        user_id = env.user_id("persona", case["id"])
        try:
            state = await run_turn(graph, user_id=user_id, conversation_id="persona", message=case["message"])
        finally:
            env.long_term.delete_user(user_id)
        prompt = PERSONA_JUDGE_PROMPT.format(
            persona_name=DEFAULT_PERSONA_NAME,
            persona_description=DEFAULT_PERSONA_DESCRIPTION,
            message=case["message"],
            reply=state["reply"],
            expectation=case["expectation"],
        )
        try:
            judged = await env.chat_model.ainvoke(prompt)
        except Exception as exc:  # providers raise their own types; all mean "no verdict"
            first_line = (str(exc).strip().splitlines() or [""])[0]
            raise ChatModelError(f"the judge model failed: {type(exc).__name__}: {first_line}") from exc
        text = judged.text if isinstance(judged, AIMessage) else str(judged.content)
        verdict = parse_verdict(text)
        results.append(
            {
                "id": case["id"],
                "message": case["message"],
                "reply": state["reply"],
                "verdict": {True: "PASS", False: "FAIL", None: "UNJUDGED"}[verdict],
                "judge": text.strip(),
                "scores": {} if verdict is None else {"pass": float(verdict)},
            }
        )
        advance()
    passed = sum(1 for r in results if r["verdict"] == "PASS")
    failed = sum(1 for r in results if r["verdict"] == "FAIL")
    metrics = {
        "pass_rate": round(passed / (passed + failed), 4) if passed + failed else 0.0,
        "passed": float(passed),
        "failed": float(failed),
        "unjudged": float(len(results) - passed - failed),
    }
    return SuiteOutcome(status="measured", metrics=metrics, cases=results)
