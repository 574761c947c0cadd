"""Write the mixed recall cases into ``evals/datasets/recall.jsonl`` (issue 19).

Long histories with updates, distractors, questions and small talk mixed in, each fact probed.

Each case is one user's history, as the recall suite sends it (``evals/recall.py``): facts about the user (drawn
from ``FACTS``), some of them updated later in the history (``UPDATES``: the probe expects the newest message and
names the outdated one in ``outdated``), facts about other people worded like the user's (distractors), the very
questions the probes will ask, asked earlier by the user themselves (a question is not an answer), and small talk.
Values and order are drawn with a fixed seed; the hand-written cases already in the file are kept.
Run: ``.venv/bin/python scripts/make_recall_suite.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "recall.jsonl"
CASES = 36

NAMES = ["Ana", "Maria", "Tom", "Priya", "Lukas", "Sofia", "Kenji", "Amara", "Diego", "Hannah", "Omar", "Elena"]
PETS = ["Rex", "Miso", "Bruno", "Luna", "Pepper", "Biscuit", "Shadow", "Coco", "Ziggy", "Olive", "Mango", "Pixel"]
CITIES = ["Lyon", "Berlin", "Boston", "Lisbon", "Toronto", "Osaka", "Madrid", "Seattle", "Prague", "Dublin"]
COMPANIES = ["Initech", "Globex", "Acme", "Spotify", "Siemens", "IKEA", "a small bakery", "the city hospital"]
FOODS = ["ramen", "lasagna", "tacos", "sushi", "curry", "dumplings", "paella"]
VALUES: dict[str, list[str]] = {
    "pet": PETS,
    "name": NAMES,
    "city": CITIES,
    "company": COMPANIES,
    "food": FOODS,
    "instrument": ["cello", "drums", "trumpet", "banjo", "violin", "saxophone"],
    "month": ["March", "July", "October", "January", "May", "December"],
    "allergen": ["peanuts", "shellfish", "pollen", "cat hair", "penicillin"],
    "car": ["red Fiat Panda", "old Volvo estate", "blue Tesla", "green Mini"],
    "subject": ["marine biology", "architecture", "philosophy", "civil engineering", "art history"],
    "hobby": ["rock climbing", "birdwatching", "sailing", "pottery", "salsa dancing"],
    "race": ["marathon in Rome", "triathlon in Nice", "half marathon in Oslo"],
    "band": ["Radiohead", "Fleetwood Mac", "Daft Punk", "ABBA", "Arctic Monkeys"],
    "drink": ["green tea", "oat latte", "espresso", "hot chocolate"],
    "job": ["pharmacist", "carpenter", "midwife", "translator", "firefighter"],
    "age": ["four", "seven", "nine", "twelve"],
    "language": ["Japanese", "Portuguese", "Swahili", "Korean", "Greek"],
}

#: (key, statement, probe, distractor about someone else, the slot drawn). Statements about the user's world.
FACTS: list[tuple[str, str, str, str, str]] = [
    ("dog", "My dog's name is {v}.", "What is my dog called?", "My neighbour's dog is called {w}.", "pet"),
    ("work", "I work at {v}.", "Where do I work?", "My brother works at {w}.", "company"),
    ("home", "I live in {v}.", "Which city do I live in?", "My cousin lives in {w}.", "city"),
    ("sister", "My sister is called {v}.", "What's my sister's name?", "My friend's sister is called {w}.", "name"),
    ("food", "My favourite food is {v}.", "What food do I like most?", "My dad's favourite food is {w}.", "food"),
    (
        "instrument",
        "I play the {v} in a small band.",
        "What instrument do I play?",
        "My flatmate plays the {w}.",
        "instrument",
    ),
    ("birthday", "My birthday is in {v}.", "When is my birthday?", "My mum's birthday is in {w}.", "month"),
    ("allergy", "I'm allergic to {v}.", "What am I allergic to?", "My son is allergic to {w}.", "allergen"),
    ("car", "I drive a {v}.", "What car do I drive?", "My boss drives a {w}.", "car"),
    ("studies", "I studied {v} at university.", "What did I study at university?", "My wife studied {w}.", "subject"),
    ("hobby", "I go {v} every weekend.", "What do I do at the weekends?", "My colleague goes {w} on Sundays.", "hobby"),
    ("race", "I'm training for a {v}.", "What race am I training for?", "My friend ran a {w} last year.", "race"),
    ("band", "My favourite band is {v}.", "Which band do I love?", "My sister can't stand {w}.", "band"),
    (
        "drink",
        "I drink {v} every morning.",
        "What do I drink in the morning?",
        "My partner drinks {w} at night.",
        "drink",
    ),
    ("mother", "My mother works as a {v}.", "What does my mother do for a living?", "My aunt works as a {w}.", "job"),
    ("son", "My son is {v} years old.", "How old is my son?", "My nephew is {w} years old.", "age"),
    (
        "language",
        "I'm learning {v} on my lunch breaks.",
        "Which language am I learning?",
        "My teacher speaks fluent {w}.",
        "language",
    ),
    ("partner", "My partner is called {v}.", "What's my partner's name?", "My boss's partner is called {w}.", "name"),
]

#: key -> how the user states a new value later in the history (same subject, changed value).
UPDATES: dict[str, list[str]] = {
    "dog": ["We renamed our dog {v}.", "My dog is called {v} now."],
    "work": ["I now work at {v}.", "I got a new job at {v}."],
    "home": ["I moved to {v}.", "I live in {v} now."],
    "food": ["My favourite food is {v} these days.", "Actually my favourite food is {v}."],
    "sister": ["Sorry, my sister's name is actually {v}."],
    "band": ["{v} is my new favourite band."],
    "partner": ["I'm engaged to {v}.", "My partner is called {v}, I mixed it up before."],
}

SMALL_TALK = [
    "hey!",
    "ok",
    "lol yes",
    "haha nice",
    "good morning :)",
    "thanks!",
    "how are you?",
    "cool cool",
    "hmm",
    "sounds good",
    "brb",
    "yeah",
    "omg",
    "night!",
    "sure",
    "wow",
]
FILLER = [
    "It rained the whole day here, so I stayed in.",
    "The bus was late again today.",
    "Lunch was a sad sandwich.",
    "I watched a documentary about octopuses last night.",
    "Work was fine, nothing special.",
    "I need to do laundry tonight.",
    "The neighbours are having a party.",
    "My phone battery died twice today.",
]


def make_case(index: int, rng: random.Random) -> dict[str, object]:
    """One user's history and its probes (a fact each; updated facts expect the newest statement)."""
    facts = rng.sample(FACTS, 14)
    updated = {key for key, *_ in facts if key in UPDATES}
    updated = set(rng.sample(sorted(updated), min(4, len(updated))))
    early: list[tuple[str, str | None]] = []  # (text, tag); tags name what a probe expects
    late: list[tuple[str, str | None]] = []
    probes: list[tuple[str, str, str | None]] = []  # (query, expected tag, outdated tag)
    for key, statement, probe, distractor, slot in facts:
        value, other, newer = rng.sample(VALUES[slot], 3)
        early.append((statement.format(v=value), f"{key}:old" if key in updated else key))
        if rng.random() < 0.5:
            early.append((distractor.format(w=other), None))
        if rng.random() < 0.35:
            early.append((probe, None))  # the user asked it themselves once; the question must not be the answer
        if key in updated:
            late.append((rng.choice(UPDATES[key]).format(v=newer), f"{key}:new"))
            probes.append((probe, f"{key}:new", f"{key}:old"))
        else:
            probes.append((probe, key, None))
    rng.shuffle(early)
    rng.shuffle(late)
    history = early + late
    chatter = [(text, None) for text in rng.sample(SMALL_TALK, 6) + rng.sample(FILLER, 3)]
    for text, tag in chatter:
        history.insert(rng.randrange(len(history) + 1), (text, tag))
    # an updated fact's new value must come after its old one, wherever the chatter went
    position = {tag: number for number, (_, tag) in enumerate(history) if tag}
    for key in updated:
        assert position[f"{key}:old"] < position[f"{key}:new"]
    messages = [text for text, _ in history]
    return {
        "id": f"mixed-{index:02d}",
        "messages": messages,
        "probes": [
            {"query": query, "expected": position[tag]} | ({"outdated": position[old]} if old else {})
            for query, tag, old in probes
        ],
    }


def main() -> None:
    """Keep the hand-written cases, replace the generated ones."""
    kept = [line for line in OUT.read_text(encoding="utf-8").splitlines() if line and '"mixed-' not in line]
    rng = random.Random(1919)
    cases = [make_case(index, rng) for index in range(CASES)]
    lines = kept + [json.dumps(case, ensure_ascii=False) for case in cases]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    probes = sum(len(case["probes"]) for case in cases)  # type: ignore[arg-type]
    print(f"{len(cases)} generated cases, {probes} probes (plus {len(kept)} hand-written cases) in {OUT}")  # noqa: T201


if __name__ == "__main__":
    main()
