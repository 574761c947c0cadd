"""``bench/locomo.py`` end to end on a small LoCoMo-shaped file, with the J score through a real OpenAI client.

The LoCoMo data itself is not part of the project (non-commercial licence), so the test writes a two-session
conversation in the same format. The chat model is a local OpenAI-compatible server (``openai_server.py``): it
"answers" a question with the memories it was given, and "judges" an answer CORRECT when the gold answer is in it.
So J here measures whether retrieval put the answer among the 10 memories, and checks the whole path: ingestion
with a chat model configured, the four retrievers, the answer and judge prompts, the scores and the report.
"""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from openai_server import openai_env, serve_openai

ROOT = Path(__file__).resolve().parents[2]
# Bounds a hung process; not a speed assertion.
PROCESS_TIMEOUT = 300

SESSIONS = {
    "1:56 pm on 8 May, 2023": [
        ("Mel", "Hi Jon! I finally adopted a puppy last week."),
        ("Jon", "That's wonderful! What's the puppy's name?"),
        ("Mel", "His name is Biscuit, a golden retriever."),
        ("Jon", "I started pottery classes on Tuesday evenings."),
        ("Mel", "Pottery sounds relaxing. What are you making?"),
        ("Jon", "A blue vase for my grandmother."),
        ("Mel", "I've been training for the Boston marathon too."),
        ("Jon", "How many miles are you running each week?"),
        ("Mel", "About forty miles a week right now."),
        ("Jon", "My sister moved to Lisbon in April."),
    ],
    "7:10 pm on 20 June, 2023": [
        ("Jon", "I finished the vase and gave it to my grandmother."),
        ("Mel", "She must have loved it!"),
        ("Jon", "She cried a little. Also, I changed jobs, I now work as a nurse."),
        ("Mel", "A nurse! That is a big change from accounting."),
        ("Mel", "Biscuit learned to fetch the newspaper this week."),
        ("Jon", "Smart dog. Are you still running?"),
        ("Mel", "Yes, the marathon is in October."),
        ("Jon", "I am visiting my sister in Lisbon next month."),
        ("Mel", "Bring me back some pastries!"),
        ("Jon", "Will do, pastel de nata for sure."),
        ("Mel", "I also started learning Portuguese on an app."),
        ("Jon", "Great, you can practise with my sister."),
    ],
}
QUESTIONS = [
    {"question": "What did Jon make in pottery class, and for whom?", "answer": "vase", "evidence": ["D1:6", "D2:1"],
     "category": 1},
    {"question": "When is Mel's marathon?", "answer": "October", "evidence": ["D2:7"], "category": 2},
    # the gold answer is in no turn: the fake model cannot find it, whatever retrieval returns
    {"question": "Which country will Jon visit next month?", "answer": "Portugal", "evidence": ["D2:8"],
     "category": 3},
    {"question": "What is the name of Mel's puppy?", "answer": "Biscuit", "evidence": ["D1:3"], "category": 4},
    {"question": "What is the name of Jon's puppy?", "adversarial_answer": "Biscuit", "evidence": ["D1:3"],
     "category": 5},
    {"question": "Where did Mel go on holiday?", "answer": "Rome", "evidence": ["D7:1"], "category": 4},  # skipped
]  # fmt: skip


def locomo_file(path: Path) -> Path:
    conversation: dict[str, Any] = {"speaker_a": "Mel", "speaker_b": "Jon"}
    for number, (date, turns) in enumerate(SESSIONS.items(), start=1):
        conversation[f"session_{number}_date_time"] = date
        conversation[f"session_{number}"] = [
            {"speaker": speaker, "dia_id": f"D{number}:{index}", "text": text}
            for index, (speaker, text) in enumerate(turns, start=1)
        ]
    conversation["session_1"][5]["blip_caption"] = "a photo of a blue ceramic vase"
    path.write_text(json.dumps([{"sample_id": "conv-t1", "conversation": conversation, "qa": QUESTIONS}]))
    return path


def answer_or_judge(body: dict[str, Any]) -> str:
    """The fake model: a judge when the prompt has a gold answer, otherwise an answerer that repeats its memories."""
    prompt = body["messages"][-1]["content"]
    judged = re.search(r"^Gold answer: (.*)\nGenerated answer: (.*)$", prompt, re.MULTILINE | re.DOTALL)
    if judged:
        gold, generated = judged.group(1), judged.group(2).split("\n\nGive one short sentence")[0]
        return "Compared the answers.\n" + ("CORRECT" if gold.lower() in generated.lower() else "WRONG")
    if "\nMemories:\n" in prompt:
        memories = prompt.split("\nMemories:\n", 1)[1].split("\n\nQuestion:", 1)[0]
        return " ".join(line[2:] for line in memories.splitlines() if line.startswith("- ")) or "I don't know."
    return "(no answer)"  # ingestion's free-text prompts (session summary, association)


def test_the_locomo_benchmark_scores_retrieval_and_j_with_an_openai_compatible_model(
    tmp_path: Path, data_dir: Path
) -> None:
    data = locomo_file(tmp_path / "locomo-mini.json")
    out = tmp_path / "result.json"
    with serve_openai(answer_or_judge) as model:
        result = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "locomo.py"), str(data), "--data-dir", str(data_dir),
             "--json-out", str(out)],
            env=openai_env(model.url),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT,
            check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())

    assert report["questions"] == 5 and report["skipped_questions"] == 1
    assert report["ingest"]["turns"] == 22 and report["ingest"]["dead"] == 0
    assert report["ingest"]["memories"] >= 22
    retrieval = report["retrieval"]
    assert set(retrieval) >= {"ours", "ours-wide", "cosine", "bm25"}
    # the puppy's name is said in one turn, which every retriever finds among 10 of 22
    for retriever in ("ours", "cosine", "bm25"):
        assert retrieval[retriever]["by_category"]["4 single-hop"]["recall@10"] == 1.0, retriever

    # J: the answer was among the memories for categories 1, 2 and 4; "Portugal" is nowhere, so 3 is wrong
    assert report["j_score"] == {
        "1 multi-hop": 1.0,
        "2 temporal": 1.0,
        "3 open-domain": 0.0,
        "4 single-hop": 1.0,
        "overall (1-4)": 0.75,
    }
    prompts = [r["body"]["messages"][-1]["content"] for r in model.chats]
    answers = [p for p in prompts if "\nMemories:\n" in p]
    judges = [p for p in prompts if "\nGold answer: " in p]
    assert len(answers) == len(judges) == 4  # the adversarial question is not judged
    # each memory reaches the model with the date of its session
    puppy = next(p for p in answers if "Mel's puppy" in p)
    assert "- (08 May 2023) Mel: His name is Biscuit, a golden retriever." in puppy
    assert all(r["authorization"] == "Bearer test" for r in model.requests)
    assert "J: 0.75" in result.stdout
