"""The newest truth: does a new statement update an older memory (same subject, changed value)? Pure rules.

Checked when a message is written (``nodes.conversation``), against the memories nearest to it: an older statement
is *superseded* by the new one when

1. both are statements (``tools.utterance``),
2. their cosine similarity is at least ``UPDATE_SIMILARITY``, and
3. they give the same *subject* two different *values* (``subjects``): a name (of a pet, a sister, a partner...),
   a favourite, where the user lives, where they work, their job, their age, their birthday, their partner,
   a plan; or they like and dislike the same thing; or one negates the other (``tools.reflection``'s rules,
   which the nightly conflict pass uses too).

Design seed 003 gates conflict candidates at similarity 0.8, set for another embedder. With this project's
(all-MiniLM-L6-v2) real updates score far lower ("I work at X" / "I now work at Y" 0.725, a dog's new name 0.669),
so the gate was calibrated on the dev split of the update suite (``evals/datasets/updates.jsonl``,
``companion eval updates``): see ``UPDATE_SIMILARITY``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from tools.reflection import Statement, contradiction_between, parse_statement
from tools.utterance import classify_utterance, is_fact

__all__ = ["UPDATE_SIMILARITY", "Update", "detect_update", "forget_readings", "subjects"]

UPDATE_SIMILARITY = 0.1
"""Cosine similarity from which two statements can be an update (the subject rules in the module docstring decide).

Calibrated on the dev split of the update suite (``evals/datasets/updates.jsonl``, ``companion eval updates``):
precision is 1.0 at every gate there (the rules decide), recall 1.0 at 0.1, 0.99 at 0.15-0.25, 0.96 at 0.3, 0.78 at
0.4; the lowest dev update scores 0.15 ("I'm dating Tom" / "I'm seeing Priya now") and "I live in Lyon." / "I live in
Boston now." 0.26. The seed's 0.8 found 9 % of the dev updates (precision 0.35 as a gate alone)."""

_NAME = r"([a-z][a-z'-]+(?: [a-z][a-z'-]+)?)"
_PLACE = r"([a-z][a-z' -]+)"
_KIN = (
    r"(dog|cat|puppy|kitten|pet|rabbit|bunny|hamster|parrot|bird|fish|horse|turtle|snake|sister|brother|mother|mom|"
    r"mum|father|dad|son|daughter|wife|husband|partner|girlfriend|boyfriend|fiance|fiancee|best friend|friend|boss|"
    r"manager|roommate|flatmate|neighbour|neighbor|cousin|aunt|uncle|grandmother|grandma|grandfather|grandpa|"
    r"niece|nephew|baby|car|bike|band|team|therapist|doctor|teacher|coach)"
)
_SPOUSE = {"wife", "husband", "partner", "girlfriend", "boyfriend", "fiance", "fiancee"}

_NAMED = r"(?:'s name| is called| is named| goes by) (?:is |now )*"
_ORG = r"(?P<v>[a-z0-9][a-z0-9'& .-]+)"
_TWO = r"(?P<v>[a-z]+(?: [a-z]+)?)"
_MOVE = r"(?:live|am living|'m living|reside|moved|relocated|am moving|'m moving)"
_HIRED = r"(?:got a (?:new )?job|started (?:a new job|working)|joined|was hired|got hired|accepted an offer)"

#: (subject template, pattern): group ``s`` (when the template has ``{s}``) names the subject, group ``v`` is the
#: value. Matched on the lower-cased text with runs of white space collapsed and leading "speaker:" removed.
_SUBJECTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("name of {s}", re.compile(rf"\bmy (?:new )?(?P<s>{_KIN}){_NAMED}(?P<v>{_NAME})")),
    ("name of {s}", re.compile(rf"\bour (?P<s>{_KIN}){_NAMED}(?P<v>{_NAME})")),
    (
        "name of {s}",
        re.compile(
            rf"\b(?:i have|i've got|i got|i adopted|we have|we got) an? (?:new )?(?P<s>{_KIN}) (?:called|named) "
            rf"(?P<v>{_NAME})"
        ),
    ),
    ("name of {s}", re.compile(rf"\b(?:we|i) (?:renamed|called|named) (?:my|our) (?P<s>{_KIN}) (?P<v>{_NAME})")),
    (
        "favourite {s}",
        re.compile(
            r"\bmy (?:new )?(?:favou?rite|fav) (?P<s>[a-z]+(?: [a-z]+)?) (?:is|has become|became) "
            r"(?:now |still |actually )*(?P<v>[a-z0-9' -]+)"
        ),
    ),
    ("favourite {s}", re.compile(r"\b(?P<v>[a-z]+) is (?:now |still )?my (?:new )?(?:favou?rite|fav) (?P<s>[a-z]+)")),
    ("home", re.compile(rf"\bi (?:now |still |currently )?{_MOVE} (?:now )?(?:in|to) (?P<v>{_PLACE})")),
    ("home", re.compile(rf"\bwe (?:now )?(?:live|moved|relocated) (?:in|to) (?P<v>{_PLACE})")),
    ("home", re.compile(rf"\b(?:my home|home|home for me) is (?:now )?(?:in )?(?P<v>{_PLACE})")),
    ("home", re.compile(rf"\bi(?: am|'m) (?:now )?(?:living|based) in (?P<v>{_PLACE})")),
    (
        "workplace",
        re.compile(rf"\bi(?: now| still| currently)?(?: work| am working|'m working|'m now working) (?:at|for) {_ORG}"),
    ),
    ("workplace", re.compile(rf"\b(?:i|and) {_HIRED} (?:at |with |by |from )?{_ORG}")),
    ("workplace", re.compile(rf"\bmy (?:new )?(?:employer|company) is (?:now )?{_ORG}")),
    ("job", re.compile(rf"\bi (?:now )?work as an? {_TWO}")),
    ("job", re.compile(rf"\bmy (?:new )?(?:job|job title|profession|role) is (?:now )?(?:an? )?{_TWO}")),
    ("job", re.compile(rf"\bi(?: am|'m) (?:now )?an? {_TWO} by (?:profession|trade)")),
    ("job", re.compile(rf"\bi (?:became|have become|'ve become) an? {_TWO}")),
    ("age", re.compile(r"\bi(?: am|'m) (?:now )?(?P<v>\d{1,3}) (?:years old|yo)\b")),
    ("age", re.compile(r"\bi (?:just )?turned (?P<v>\d{1,3})\b")),
    ("birthday", re.compile(r"\bmy birthday is (?:on )?(?P<v>[a-z0-9 ]+)")),
    (
        "partner",
        re.compile(rf"\bi(?: am|'m) (?:now )?(?:dating|seeing|engaged to|married to|together with) (?P<v>{_NAME})"),
    ),
    ("plan", re.compile(rf"\bmy plan is (?:now )?to {_TWO}")),
    ("drive", re.compile(r"\bi (?:now )?drive an? (?P<v>[a-z0-9]+(?: [a-z0-9]+)?)")),
    ("diet", re.compile(r"\bi(?: am|'m) (?:now )?(?:a )?(?P<v>vegan|vegetarian|pescatarian|carnivore|keto)\b")),
    ("phone", re.compile(r"\bmy (?:new )?phone is an? (?P<v>[a-z0-9]+(?: [a-z0-9]+)?)")),
    ("studies", re.compile(rf"\bi (?:now )?(?:study|am studying|'m studying) {_TWO}")),
)
_VALUE_ENDS = frozenset(
    "with and since for because but when while as from until last next this ago yesterday today so which who that"
    " after before instead anymore now though although tho here there lately recently".split()
)
_FILLERS = frozenset("now too again still currently these days the a an actually".split())
_SPEAKER = re.compile(r"^[a-z][a-z .'-]{0,30}: ")
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True, slots=True)
class Update:
    """Why a new statement supersedes an older one."""

    subject: str
    old_value: str
    new_value: str
    rule: str  # "subject", "preference" or "negation"


def _lowered(text: str) -> str:
    lowered = " ".join(text.lower().replace("\u2019", "'").split())
    return _SPEAKER.sub("", lowered)


def subjects(text: str) -> dict[str, str]:
    """The subjects ``text`` gives a value to, e.g. ``{"name of dog": "rex", "home": "lyon"}``."""
    lowered = _lowered(text)
    found: dict[str, str] = {}
    for template, pattern in _SUBJECTS:
        for match in pattern.finditer(lowered):
            named = match.groupdict()
            subject = template.format(s=_canonical(named["s"])) if named.get("s") else template
            subject = "partner" if subject == "name of partner" else subject  # "my wife is called" / "dating"
            value = named["v"]
            words = []
            for word in _WORD.findall(value):
                if word in _VALUE_ENDS:
                    break
                if word not in _FILLERS:
                    words.append(word.strip("'"))
            if words and subject not in found:
                found[subject] = " ".join(words[:3])
    return found


def _canonical(kin: str) -> str:
    kin = {"mom": "mother", "mum": "mother", "dad": "father", "puppy": "dog", "kitten": "cat", "bunny": "rabbit"}.get(
        kin, kin
    )
    return "partner" if kin in _SPOUSE else kin


def _same_value(first: str, second: str) -> bool:
    """Values agree when one starts with the other word for word ("lyon" / "lyon france")."""
    a, b = first.split(), second.split()
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return longer[: len(shorter)] == shorter


def detect_update(
    new_text: str, old_text: str, similarity: float, *, new_type: str = "", old_type: str = ""
) -> Update | None:
    """The update ``new_text`` makes to ``old_text`` (their embeddings ``similarity`` apart), or ``None``.

    ``new_type`` and ``old_type`` are stored utterance types ("" classifies the text).
    """
    if similarity < UPDATE_SIMILARITY or not is_fact(new_type, new_text) or not is_fact(old_type, old_text):
        return None
    (old_subjects, old_statement), (new_subjects, new_statement) = _reading(old_text), _reading(new_text)
    for subject in sorted(old_subjects.keys() & new_subjects.keys()):
        if not _same_value(old_subjects[subject], new_subjects[subject]):
            return Update(subject, old_subjects[subject], new_subjects[subject], "subject")
    if old_subjects.keys() & new_subjects.keys():
        return None  # the same subject with the same value: a compatible addition
    verdict = contradiction_between(old_statement, new_statement)
    if verdict is not None and verdict.rule in ("preference", "negation"):
        return Update(verdict.description, "", "", verdict.rule)
    return None


READINGS_CACHED = 4096
"""Texts whose reading (subjects and statement) is kept: a turn checks its message against the ~50 memories of its
recall pool, the same user's memories come back turn after turn, and reading one costs ~0.07 ms of regexes."""


@functools.lru_cache(maxsize=READINGS_CACHED)
def _reading(text: str) -> tuple[Mapping[str, str], Statement]:
    """``subjects`` and ``parse_statement`` of ``text``, read-only (shared by every caller of the cache)."""
    return MappingProxyType(subjects(text)), parse_statement(text)


def forget_readings() -> None:
    """Drop every cached reading and utterance type: an erased user's texts must not stay in the process."""
    _reading.cache_clear()
    classify_utterance.cache_clear()
