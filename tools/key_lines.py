"""Which lines of a conversation carry its facts: the offline session summary and the key lines it points to.

A session's summary should say what the user told: the trip's destination, the new job, the support group, not
"Hey! Good to see you!" nor the most emotional line. Without a chat model the summary is extractive: the
``SUMMARY_LINES`` user lines most likely to carry a fact, in the order they were said, with their greetings and
small-talk sentences left out.

How likely a line carries a fact is a logistic model over ten features of the line and its neighbours
(:func:`line_features`): its length in content words and characters, whether it speaks in the first person,
answers or asks a question, where it falls in the session, its importance and emotional intensity (the local
detector's), and its utterance type. The weights (``tools/models/key_lines.json``) are fitted by
``scripts/train_key_lines.py`` on LoCoMo conversations 0-3, whose per-session observations name the turns each fact
came from; conversations 4-9 are held out (``companion eval summaries``). Importance alone, the previous rule,
picks fewer of those turns than the first three lines of the session.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from memory.candidates import query_words
from tools.utterance import UtteranceType, classify_utterance

__all__ = [
    "FEATURES",
    "KEY_LINES_PATH",
    "SUMMARY_LINES",
    "ConversationLine",
    "key_line_scores",
    "key_lines",
    "line_features",
    "offline_summary",
]

KEY_LINES_PATH = Path(__file__).parent / "models" / "key_lines.json"
#: How many user lines an offline session summary keeps.
SUMMARY_LINES = 3

FEATURES = (
    "content_words",  # log(1 + words that are not function words)
    "characters",  # log(1 + characters)
    "first_person",  # I, my, me, we, our ...
    "answers_question",  # the line before it, by the other party, asks something
    "asks_question",  # it has a question mark
    "invites_question",  # the other party's next line asks something about it
    "position",  # 0 for the user's first line of the session, 1 for the last
    "importance",  # the detector's importance / 1000
    "intensity",  # the detector's emotional intensity / 100
    "statement",  # utterance type
)

_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|my|mine|me|myself|we|we're|we've|our|ours|us)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class ConversationLine:
    """One line of a conversation: who said it (``user`` or not), and the detector's reading of a user line."""

    text: str
    from_user: bool
    importance: int = 0
    intensity: int = 0


def line_features(lines: Sequence[ConversationLine]) -> tuple[list[int], np.ndarray]:
    """The user lines' positions in ``lines`` and their feature rows (:data:`FEATURES`), in order."""
    positions = [index for index, line in enumerate(lines) if line.from_user]
    rows = np.zeros((len(positions), len(FEATURES)), dtype=np.float64)
    for row, index in enumerate(positions):
        line = lines[index]
        before = lines[index - 1] if index > 0 and not lines[index - 1].from_user else None
        after = lines[index + 1] if index + 1 < len(lines) and not lines[index + 1].from_user else None
        rows[row] = (
            math.log1p(len(query_words(line.text))),
            math.log1p(len(line.text)),
            bool(_FIRST_PERSON.search(line.text)),
            before is not None and "?" in before.text,
            "?" in line.text,
            after is not None and "?" in after.text,
            row / max(1, len(positions) - 1),
            line.importance / 1000,
            line.intensity / 100,
            classify_utterance(line.text) is UtteranceType.STATEMENT,
        )
    return positions, rows


@cache
def _weights(path: Path = KEY_LINES_PATH) -> tuple[np.ndarray, float]:
    card = json.loads(path.read_text(encoding="utf-8"))
    if tuple(card["features"]) != FEATURES:
        raise ValueError(f"{path} was fitted on other features than tools.key_lines.FEATURES")
    return np.asarray(card["weights"], dtype=np.float64), float(card["bias"])


def key_line_scores(lines: Sequence[ConversationLine]) -> tuple[list[int], np.ndarray]:
    """The user lines' positions in ``lines`` and the log-odds that each carries a fact."""
    positions, rows = line_features(lines)
    weights, bias = _weights()
    return positions, rows @ weights + bias


def key_lines(lines: Sequence[ConversationLine], count: int = SUMMARY_LINES) -> list[int]:
    """Positions in ``lines`` of the ``count`` user lines most likely to carry a fact, in conversation order."""
    positions, scores = key_line_scores(lines)
    best = np.argsort(-scores, kind="stable")[:count]
    return sorted(positions[int(row)] for row in best)


def offline_summary(lines: Sequence[ConversationLine], count: int = SUMMARY_LINES) -> str:
    """The key user lines, in order, without their greetings and small talk ("Hey Mel! Good to see you!")."""
    return " ".join(_without_small_talk(lines[index].text) for index in key_lines(lines, count)).strip()


def _without_small_talk(text: str) -> str:
    sentences = [sentence for sentence in _SENTENCE.split(text.strip()) if sentence]
    kept = [sentence for sentence in sentences if classify_utterance(sentence) is not UtteranceType.SMALL_TALK]
    return " ".join(kept) if kept else text.strip()
