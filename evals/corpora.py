"""The public corpora the perception suites read from ``../shared/data`` (beside the repository), and their digests.

* GoEmotions *test* split (``goemotions/test.tsv``, 5,427 Reddit comments): emotion labels, and ordinary chat.
* The injection sets' *test* splits (``injection/*_test.jsonl``: deepset prompt-injections, jackhhao
  jailbreak-classification).
* LoCoMo conversations with index 4-9 (``locomo/locomo10.json``): ordinary chat. Conversations 0-3 are left to
  training, so an eval never scores a model on turns it may have been fitted on.

Missing data is an ``InvalidInputError`` that says where the file was expected.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

from companion.core.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[1]
#: The hand-written datasets of the suites.
DATASETS_DIR = ROOT / "evals" / "datasets"
SHARED_DATA = ROOT.parent / "shared" / "data"
GOEMOTIONS_TEST = SHARED_DATA / "goemotions" / "test.tsv"
INJECTION_DIR = SHARED_DATA / "injection"
INJECTION_TESTS = {
    "deepset": INJECTION_DIR / "deepset_prompt_injections_test.jsonl",
    "jackhhao": INJECTION_DIR / "jailbreak_classification_test.jsonl",
}
LOCOMO = SHARED_DATA / "locomo" / "locomo10.json"
#: LoCoMo conversations held out for evaluation (0-3 may be used for training).
LOCOMO_EVAL_CONVERSATIONS = range(4, 10)


def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise InvalidInputError(f"{what} not found at {path} (the public data lives in ../shared/data)")
    return path


def sha256(path: Path) -> str:
    """The file's sha256 (recorded with every result, so two runs can be told to be on the same data)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source(path: Path, rows: int, note: str = "") -> dict[str, Any]:
    """How a result names one of its data sources."""
    return {"path": str(path), "sha256": sha256(path), "rows": rows, **({"note": note} if note else {})}


def goemotions_test() -> tuple[list[str], list[list[int]]]:
    """Texts and GoEmotions label ids of the test split."""
    texts: list[str] = []
    labels: list[list[int]] = []
    with _require(GOEMOTIONS_TEST, "the GoEmotions test split").open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            texts.append(row[0])
            labels.append([int(x) for x in row[1].split(",")])
    return texts, labels


def injection_test(name: str) -> tuple[list[str], list[int]]:
    """Texts and labels (1 = injection or jailbreak) of one injection set's test split."""
    path = _require(INJECTION_TESTS[name], f"the {name} injection test split")
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            texts.append(str(row["text"]))
            labels.append(int(row["label"]))
    return texts, labels


def load_locomo(path: Path = LOCOMO) -> list[dict[str, Any]]:
    """LoCoMo's ten conversations as the file holds them (a one-line error when the file is missing)."""
    data: list[dict[str, Any]] = json.loads(_require(path, "LoCoMo (locomo10.json)").read_text(encoding="utf-8"))
    return data


def locomo_turns(conversations: range = LOCOMO_EVAL_CONVERSATIONS, *, path: Path = LOCOMO) -> list[str]:
    """The text of every turn of the given LoCoMo conversations, in order."""
    data = load_locomo(path)
    turns: list[str] = []
    for index in conversations:
        conversation = data[index]["conversation"]
        sessions = sorted(
            (key for key, value in conversation.items() if key.startswith("session_") and isinstance(value, list)),
            key=lambda key: int(key.split("_")[1]),
        )
        for key in sessions:
            turns += [str(turn["text"]) for turn in conversation[key] if str(turn.get("text", "")).strip()]
    return turns


def ordinary_chat() -> tuple[list[str], list[str]]:
    """Ordinary chat messages and the source of each (``goemotions`` or ``locomo``).

    GoEmotions test comments, then LoCoMo turns of conversations 4-9: nothing in them is an attack or, by and
    large, a crisis.
    """
    comments, _ = goemotions_test()
    turns = locomo_turns()
    return comments + turns, ["goemotions"] * len(comments) + ["locomo"] * len(turns)


def ordinary_chat_sources() -> dict[str, Any]:
    """The ordinary-chat corpus's sources, for a result's details."""
    comments, _ = goemotions_test()
    return {
        "goemotions_test": source(GOEMOTIONS_TEST, len(comments)),
        "locomo": source(LOCOMO, len(locomo_turns()), "turns of conversations 4-9 only"),
    }
