"""The ``summaries`` suite: whether an offline session summary keeps the lines the session's facts came from.

LoCoMo gives, for every session and speaker, observations ("Caroline attended an LGBTQ support group recently")
with the turns each came from. Each (session, speaker) is a unit: that speaker is the user, the other one the
companion. A summary of ``SUMMARY_LINES`` user lines is judged by

* ``evidence_recall``: the share of the unit's evidence turns among the lines it keeps, and
* ``fact_word_recall``: the share of the observations' content words found in its text,

with ``words``, its length, beside them (a longer summary finds more words). Systems, in the same run:

* ``key_lines``: the product's (``tools.key_lines``, fitted on conversations 0-3),
* ``importance``: the previous offline rule, the most important lines (ties: the more intense, the earlier),
* ``first``: the user's first lines, and ``longest``: the user's longest lines.

Only conversations 4-9 are scored (``evals.corpora.LOCOMO_EVAL_CONVERSATIONS``); the training script
(``scripts/train_key_lines.py``) reports the same metrics on 0-3 through :func:`score_units`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evals.core import Advance, EvalEnv, SuiteOutcome
from evals.corpora import LOCOMO, LOCOMO_EVAL_CONVERSATIONS, load_locomo, source
from evals.perception import perceive
from memory.candidates import query_words
from memory.embeddings import Embedder
from tools.key_lines import FEATURES, SUMMARY_LINES, ConversationLine, key_lines, offline_summary

SYSTEMS = ("key_lines", "importance", "first", "longest")
_SESSION = re.compile(r"session_(\d+)")


@dataclass(frozen=True, slots=True)
class Unit:
    """One session seen from one speaker: its turns, which are the speaker's, the evidence turns and the facts."""

    conversation: int
    session: int
    speaker: str
    turns: list[dict[str, str]]
    evidence: frozenset[str]
    facts: list[str]


def locomo_units(conversations: Sequence[int]) -> Iterator[Unit]:
    """Every (session, speaker) of ``conversations`` with at least one observation drawn from the speaker's turns."""
    data = load_locomo()
    for index in conversations:
        sample = data[index]
        for key, turns in sample["conversation"].items():
            if not (match := _SESSION.fullmatch(key)):
                continue
            observed = sample.get("observation", {}).get(f"session_{match.group(1)}_observation", {})
            for speaker, facts in observed.items():
                evidence = {
                    part
                    for _, pointer in facts
                    for item in (pointer if isinstance(pointer, list) else [pointer])
                    for part in re.split(r"[;,\s]+", str(item))
                    if part
                }
                own = {turn["dia_id"] for turn in turns if turn["speaker"] == speaker}
                if evidence & own:
                    yield Unit(
                        index, int(match.group(1)), speaker, turns, frozenset(evidence & own), [f for f, _ in facts]
                    )


def unit_lines(unit: Unit, perceived: dict[str, tuple[int, int]]) -> list[ConversationLine]:
    """The unit's turns as conversation lines, with the detector's (importance, intensity) of each turn's text."""
    return [
        ConversationLine(turn["text"], turn["speaker"] == unit.speaker, *perceived.get(turn["text"], (0, 0)))
        for turn in unit.turns
    ]


def perceive_units(
    units: Sequence[Unit], embedder: Embedder, *, cache_dir: Path | None = None, advance: Advance | None = None
) -> dict[str, tuple[int, int]]:
    """(importance, intensity) of every distinct turn text, as the product's detector reads it."""
    texts = sorted({turn["text"] for unit in units for turn in unit.turns})
    found = perceive(texts, embedder, cache_dir=cache_dir, advance=advance, label="LoCoMo turns")
    return {text: (p.detection.importance, p.detection.intensity) for text, p in zip(texts, found, strict=True)}


def choose(system: str, lines: list[ConversationLine], count: int = SUMMARY_LINES) -> list[int]:
    """Positions of the user lines ``system`` keeps, in order."""
    own = [index for index, line in enumerate(lines) if line.from_user]
    if system == "key_lines":
        return key_lines(lines, count)
    ranks: dict[str, Callable[[int], Any]] = {
        "importance": lambda i: (-lines[i].importance, -lines[i].intensity, i),
        "first": lambda i: i,
        "longest": lambda i: (-len(lines[i].text), i),
    }
    return sorted(sorted(own, key=ranks[system])[:count])


def summary_text(system: str, lines: list[ConversationLine], chosen: list[int]) -> str:
    """What the summary says: the product's trims small talk; the baselines join their lines."""
    if system == "key_lines":
        return offline_summary(lines)
    return " ".join(lines[index].text for index in chosen)


def score_units(units: Sequence[Unit], perceived: dict[str, tuple[int, int]]) -> dict[str, float]:
    """``<system>.evidence_recall``, ``<system>.fact_word_recall`` and ``<system>.words`` over ``units``."""
    totals: dict[str, list[list[float]]] = {system: [[], [], []] for system in SYSTEMS}
    for unit in units:
        lines = unit_lines(unit, perceived)
        fact_words = set(query_words(" ".join(unit.facts)))
        for system in SYSTEMS:
            chosen = choose(system, lines)
            text = summary_text(system, lines, chosen)
            kept = {unit.turns[index]["dia_id"] for index in chosen}
            totals[system][0].append(len(kept & unit.evidence) / len(unit.evidence))
            totals[system][1].append(len(fact_words & set(query_words(text))) / max(1, len(fact_words)))
            totals[system][2].append(len(text.split()))
    metrics = {}
    for system, (evidence, words, length) in totals.items():
        metrics[f"{system}.evidence_recall"] = round(float(np.mean(evidence)), 4)
        metrics[f"{system}.fact_word_recall"] = round(float(np.mean(words)), 4)
        metrics[f"{system}.words"] = round(float(np.mean(length)), 1)
    return metrics


def run_summaries(cases: list[dict[str, Any]], env: EvalEnv, advance: Advance) -> SuiteOutcome:
    """Perceive every turn of the held-out conversations, summarise each unit four ways, score them."""
    units = list(locomo_units(LOCOMO_EVAL_CONVERSATIONS))
    perceived = perceive_units(units, env.embedder, cache_dir=env.cache_dir, advance=advance)
    metrics = {"units": float(len(units)), "lines_per_unit": _lines_per_unit(units), **score_units(units, perceived)}
    return SuiteOutcome(
        status="measured",
        metrics=metrics,
        systems=SYSTEMS,
        details={
            "sources": {"locomo": source(LOCOMO, len(units), "conversations 4-9; 0-3 fitted the key-line model")},
            "summary_lines": SUMMARY_LINES,
            "features": list(FEATURES),
        },
    )


def _lines_per_unit(units: Sequence[Unit]) -> float:
    return round(float(np.mean([sum(t["speaker"] == u.speaker for t in u.turns) for u in units])), 2)
