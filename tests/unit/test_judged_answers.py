"""J score (LLM-judged answer accuracy): the answer and the verdict come from the chat model (faked at its boundary);
the scoring is checked by hand."""

import pytest
from conftest import fake_chat_model

from evals.judged_answers import answer_and_judge, j_scores, verdict_is_correct


@pytest.mark.parametrize(
    ("verdict", "correct"),
    [
        ("Same city.\nCORRECT", True),
        ("The generated answer is correct about the date.\nWRONG", False),  # reasoning words do not count
        ("Different person.\n\nINCORRECT", False),  # not a label: no verdict, so WRONG
        ("CORRECT", True),
        ("Close, but: WRONG (not CORRECT)\nWRONG", False),
        ("", False),
        ("Unsure.", False),
    ],
)
def test_only_the_verdicts_last_line_decides(verdict: str, correct: bool) -> None:
    assert verdict_is_correct(verdict) is correct


async def test_answer_then_judge_with_the_model() -> None:
    model = fake_chat_model("  She went on 7 May 2023.  ", "Same date, another format.\nCORRECT")
    judged = await answer_and_judge(
        model,
        question="When did Caroline go to the support group?",
        gold_answer="7 May 2023",
        memories=["(08 May 2023) Caroline: I went to a LGBTQ support group yesterday."],
    )
    assert judged.answer == "She went on 7 May 2023." and judged.correct is True

    wrong = await answer_and_judge(
        fake_chat_model("I don't know.", "It gives no date.\nWRONG"), question="q", gold_answer="a", memories=[]
    )
    assert wrong.correct is False


async def test_j_scores_per_category_and_overall_by_hand() -> None:
    model = fake_chat_model("a1", "CORRECT", "a2", "x\nWRONG", "a3", "y\nCORRECT")
    verdicts = []
    for category in ("2 temporal", "2 temporal", "4 single-hop"):
        judged = await answer_and_judge(model, question="q", gold_answer="g", memories=["m"])
        verdicts.append((category, judged.correct))
    scores = j_scores(verdicts, overall="overall (1-4)")
    assert scores == {"2 temporal": 0.5, "4 single-hop": 1.0, "overall (1-4)": pytest.approx(2 / 3, abs=1e-4)}
    assert j_scores([]) == {"overall": 0.0}
