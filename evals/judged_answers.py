"""LLM-judged answer accuracy (the J score of the mem0 paper): answer from retrieved memories, then judge.

The chat model answers a question from the memories alone (``LOCOMO_ANSWER_PROMPT``); the same model then labels
that answer CORRECT or WRONG against the gold answer (``LOCOMO_JUDGE_PROMPT``). J is the share judged CORRECT,
per category and overall. Only the verdict's last non-empty line counts, so reasoning that happens to contain the
word "correct" (or "incorrect") cannot flip it; a verdict without either word counts as WRONG.
"""

import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from prompts.evals import LOCOMO_ANSWER_PROMPT, LOCOMO_JUDGE_PROMPT

__all__ = ["JudgedAnswer", "answer_and_judge", "j_scores", "verdict_is_correct"]

_LABEL = re.compile(r"\b(CORRECT|WRONG)\b")


@dataclass(frozen=True, slots=True)
class JudgedAnswer:
    """The model's answer to one question and the judge's verdict on it."""

    answer: str
    correct: bool


def verdict_is_correct(verdict: str) -> bool:
    """Whether the judge's last non-empty line says CORRECT (its last label word, if it gives two)."""
    lines = [line for line in verdict.strip().splitlines() if line.strip()]
    if not lines:
        return False
    labels = _LABEL.findall(lines[-1].upper())
    return bool(labels) and labels[-1] == "CORRECT"


async def answer_and_judge(
    chat_model: BaseChatModel, *, question: str, gold_answer: str, memories: Sequence[str]
) -> JudgedAnswer:
    """Answer ``question`` from ``memories`` (one line each) with the model, then judge it against ``gold_answer``."""
    listed = "\n".join(f"- {memory}" for memory in memories) or "(none)"
    answer = await chat_model.ainvoke([HumanMessage(LOCOMO_ANSWER_PROMPT.format(memories=listed, question=question))])
    generated = answer.text.strip()
    verdict = await chat_model.ainvoke(
        [
            HumanMessage(
                LOCOMO_JUDGE_PROMPT.format(question=question, gold_answer=gold_answer, generated_answer=generated)
            )
        ]
    )
    return JudgedAnswer(answer=generated, correct=verdict_is_correct(verdict.text))


def j_scores(verdicts: Iterable[tuple[str, bool]], *, overall: str = "overall") -> dict[str, float]:
    """J per group and overall from ``(group, correct)`` pairs: the share judged correct, groups sorted by name."""
    by_group: dict[str, list[bool]] = defaultdict(list)
    for group, correct in verdicts:
        by_group[group].append(correct)
    scores = {group: round(statistics.fmean(values), 4) for group, values in sorted(by_group.items())}
    every = [value for values in by_group.values() for value in values]
    scores[overall] = round(statistics.fmean(every), 4) if every else 0.0
    return scores
