"""Write ``evals/datasets/updates.jsonl``: pairs of an older and a newer statement, each an update or not.

An *update* gives the same subject a new value (a pet's new name, a new employer, a new city, a changed favourite,
a preference turned around); a *compatible* pair adds to the older statement without contradicting it (the same
value again with more detail, another subject of the same kind, a related new fact). Phrasings are written by hand
below, several per family and deliberately not all in the forms the rules of ``tools.updates`` read; values are
drawn with a fixed seed. Every pair has a ``split``: ``dev`` (calibration) or ``test`` (reported), half each,
stratified by family and label. Run: ``.venv/bin/python scripts/make_update_suite.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "updates.jsonl"

PETS = ["dog", "cat", "rabbit", "parrot"]
PET_NAMES = ["Rex", "Miso", "Bruno", "Luna", "Pepper", "Biscuit", "Shadow", "Coco", "Max", "Nala", "Ziggy", "Olive"]
KIN = ["sister", "brother", "best friend", "cousin"]
PEOPLE = ["Ana", "Maria", "Tom", "Priya", "Lukas", "Sofia", "Kenji", "Amara", "Diego", "Hannah", "Omar", "Elena"]
COMPANIES = ["Google", "Initech", "Globex", "Acme", "Spotify", "the city hospital", "a small bakery", "Siemens", "IKEA"]
CITIES = ["Lyon", "Berlin", "Boston", "Lisbon", "Toronto", "Osaka", "Madrid", "Seattle", "Prague", "Dublin"]
FAV = {
    "colour": ["blue", "green", "red", "purple", "yellow", "orange"],
    "food": ["pizza", "sushi", "ramen", "tacos", "lasagna", "curry"],
    "band": ["Radiohead", "Coldplay", "Muse", "Queen", "Blur", "Oasis"],
    "season": ["winter", "spring", "summer", "autumn"],
    "movie": ["Alien", "Amelie", "Heat", "Up", "Jaws", "Arrival"],
}
LIKES = ["jazz", "running", "coffee", "horror films", "cooking", "video games", "hiking", "camping"]
JOBS = ["teacher", "nurse", "software engineer", "accountant", "chef", "designer", "lawyer", "pharmacist"]


def updates(rng: random.Random) -> list[tuple[str, str, str]]:
    """Pairs whose newer statement gives the older one's subject a new value: (family, old, new)."""
    pairs: list[tuple[str, str, str]] = []
    for _ in range(6):
        pet, (a, b) = rng.choice(PETS), rng.sample(PET_NAMES, 2)
        old = rng.choice([f"My {pet}'s name is {a}.", f"I have a {pet} named {a}.", f"My {pet} is called {a}."])
        new = rng.choice(
            [
                f"We renamed our {pet} {b}.",
                f"My {pet} is called {b} now.",
                f"Actually my {pet}'s name is {b}, not {a}.",
                f"My {pet} goes by {b} these days.",
            ]
        )
        pairs.append(("pet name", old, new))
    for _ in range(6):
        kin, (a, b) = rng.choice(KIN), rng.sample(PEOPLE, 2)
        old = rng.choice([f"My {kin} is called {a}.", f"My {kin}'s name is {a}."])
        new = rng.choice(
            [
                f"Sorry, my {kin}'s name is actually {b}.",
                f"My {kin} is named {b}.",
                f"My {kin} is called {b}, I mixed it up.",
            ]
        )
        pairs.append(("relative name", old, new))
    for _ in range(7):
        a, b = rng.sample(COMPANIES, 2)
        old = rng.choice([f"I work at {a}.", f"I'm working for {a} as an engineer.", f"I work for {a} these days."])
        new = rng.choice(
            [
                f"I now work at {b}.",
                f"I got a new job at {b}.",
                f"I left {a} and joined {b}.",
                f"I started working at {b} last week.",
                f"I work for {b} now.",
            ]
        )
        pairs.append(("workplace", old, new))
    for _ in range(7):
        a, b = rng.sample(CITIES, 2)
        old = rng.choice([f"I live in {a}.", f"I'm based in {a}.", f"Home for me is {a}."])
        new = rng.choice(
            [
                f"I moved to {b}.",
                f"I live in {b} now.",
                f"We relocated to {b} last month.",
                f"I'm living in {b} since May.",
            ]
        )
        pairs.append(("home", old, new))
    for _ in range(8):
        topic = rng.choice(list(FAV))
        a, b = rng.sample(FAV[topic], 2)
        old = rng.choice([f"My favourite {topic} is {a}.", f"{a} is my favourite {topic}."])
        new = rng.choice(
            [
                f"My favourite {topic} is {b}.",
                f"Actually my favourite {topic} is {b}.",
                f"{b} is my new favourite {topic}.",
                f"My favorite {topic} has become {b}.",
            ]
        )
        pairs.append(("favourite", old, new))
    for _ in range(6):
        thing = rng.choice(LIKES)
        old = rng.choice([f"I love {thing}.", f"I really enjoy {thing}."])
        new = rng.choice(
            [f"I hate {thing} now.", f"I don't like {thing} anymore.", f"Honestly I dislike {thing} these days."]
        )
        pairs.append(("preference", old, new))
    for _ in range(6):
        a, b = rng.sample(JOBS, 2)
        old = rng.choice([f"I work as a {a}.", f"My job is {a}.", f"I'm a {a} by profession."])
        new = rng.choice([f"I work as a {b} now.", f"I became a {b}.", f"My new job is {b}."])
        pairs.append(("job", old, new))
    for _ in range(4):
        a, b = rng.sample(PEOPLE, 2)
        pairs.append(("partner", f"I'm dating {a}.", rng.choice([f"I'm seeing {b} now.", f"I'm engaged to {b}."])))
    for _ in range(4):
        age = rng.randint(19, 60)
        pairs.append(
            (
                "age",
                f"I am {age} years old.",
                rng.choice([f"I just turned {age + 1}.", f"I'm {age + 1} years old now."]),
            )
        )
    return pairs


def compatible(rng: random.Random) -> list[tuple[str, str, str]]:
    """Pairs whose newer statement adds to the older one without contradicting it: (family, old, new)."""
    pairs: list[tuple[str, str, str]] = []
    for _ in range(6):
        pet, a = rng.choice(PETS), rng.choice(PET_NAMES)
        other = rng.choice([p for p in PETS if p != pet])
        old = rng.choice([f"My {pet}'s name is {a}.", f"I have a {pet} named {a}."])
        new = rng.choice(
            [
                f"My {pet} {a} turned three today.",
                f"{a}, my {pet}, loves the beach.",
                f"My {other} is called {rng.choice(PET_NAMES)}.",
                f"I took my {pet} {a} to the vet this morning.",
            ]
        )
        pairs.append(("pet name", old, new))
    for _ in range(6):
        kin, a = rng.choice(KIN), rng.choice(PEOPLE)
        other = rng.choice([k for k in KIN if k != kin])
        old = rng.choice([f"My {kin} is called {a}.", f"My {kin}'s name is {a}."])
        new = rng.choice(
            [
                f"My {other} is called {rng.choice(PEOPLE)}.",
                f"My {kin} {a} is visiting next week.",
                f"{a}, my {kin}, just had a baby.",
                f"My {kin}'s name is {a}, she is a nurse.",
            ]
        )
        pairs.append(("relative name", old, new))
    for _ in range(7):
        a = rng.choice(COMPANIES)
        old = rng.choice([f"I work at {a}.", f"I work for {a} these days."])
        new = rng.choice(
            [
                f"My team at {a} is great.",
                f"I still work at {a} and I like it.",
                "I also volunteer at the animal shelter on weekends.",
                f"My sister works at {rng.choice(COMPANIES)}.",
                f"I work at {a} in the marketing department.",
            ]
        )
        pairs.append(("workplace", old, new))
    for _ in range(7):
        a = rng.choice(CITIES)
        old = rng.choice([f"I live in {a}.", f"I'm based in {a}."])
        new = rng.choice(
            [
                f"I love the food in {a}.",
                f"I live in {a} with my wife.",
                f"My parents live in {rng.choice(CITIES)}.",
                f"I'm flying to {rng.choice(CITIES)} for a conference.",
                f"I've lived in {a} for ten years.",
            ]
        )
        pairs.append(("home", old, new))
    for _ in range(8):
        topic = rng.choice(list(FAV))
        other = rng.choice([t for t in FAV if t != topic])
        a = rng.choice(FAV[topic])
        old = rng.choice([f"My favourite {topic} is {a}.", f"{a} is my favourite {topic}."])
        new = rng.choice(
            [
                f"My favourite {other} is {rng.choice(FAV[other])}.",
                f"{a} is still my favourite {topic}.",
                f"I also like {rng.choice([v for v in FAV[topic] if v != a])} a lot.",
                f"My favourite {topic} is {a}, always has been.",
            ]
        )
        pairs.append(("favourite", old, new))
    for _ in range(6):
        thing = rng.choice(LIKES)
        other = rng.choice([t for t in LIKES if t != thing])
        old = rng.choice([f"I love {thing}.", f"I really enjoy {thing}."])
        new = rng.choice(
            [
                f"I also love {other}.",
                f"I love {thing} more than ever.",
                f"I don't like {other}.",
                f"I went {thing} with friends.",
            ]
        )
        pairs.append(("preference", old, new))
    for _ in range(6):
        a = rng.choice(JOBS)
        old = rng.choice([f"I work as a {a}.", f"My job is {a}."])
        new = rng.choice(
            [
                f"Being a {a} is tiring but rewarding.",
                f"My brother works as a {rng.choice(JOBS)}.",
                f"I work as a {a} at the hospital.",
            ]
        )
        pairs.append(("job", old, new))
    for _ in range(4):
        a = rng.choice(PEOPLE)
        pairs.append(
            (
                "partner",
                f"I'm dating {a}.",
                rng.choice([f"{a} and I went to the cinema.", f"I'm dating {a}, it's going well."]),
            )
        )
    for _ in range(4):
        age = rng.randint(19, 60)
        pairs.append(
            (
                "age",
                f"I am {age} years old.",
                rng.choice([f"My brother is {age + 3} years old.", f"I feel younger than {age}."]),
            )
        )
    for _ in range(8):  # hard ones: same words, another referent, a past, a second one, a trip, a part-time job
        pet, a, b = rng.choice(PETS), *rng.sample(PET_NAMES, 2)
        city_a, city_b = rng.sample(CITIES, 2)
        company_a, company_b = rng.sample(COMPANIES, 2)
        kin, person_a, person_b = rng.choice(KIN), *rng.sample(PEOPLE, 2)
        old, new = rng.choice(
            [
                (f"I have a {pet} named {a}.", f"We got a second {pet} named {b}."),
                (f"My {pet} is called {a}.", f"My neighbour's {pet} is called {b}."),
                (f"I live in {city_a}.", f"I lived in {city_b} as a kid."),
                (f"I live in {city_a}.", f"I'm going to {city_b} for a holiday."),
                (f"I work at {company_a}.", f"I used to work at {company_b}."),
                (f"I work at {company_a}.", f"On weekends I also help out at {company_b}."),
                (f"My {kin} is called {person_a}.", f"My {kin}'s husband is called {person_b}."),
                (f"I'm dating {person_a}.", f"My {kin} is dating {person_b}."),
                (
                    f"My favourite band is {rng.choice(FAV['band'])}.",
                    f"My {kin}'s favourite band is {rng.choice(FAV['band'])}.",
                ),
            ]
        )
        pairs.append(("hard", old, new))
    return pairs


def main() -> None:
    """Draw every family three times, drop repeated pairs, split each (family, label) group half and half."""
    rng = random.Random(19)
    rows = []
    for label, made in (("update", updates), ("compatible", compatible)):
        for _ in range(3):  # three draws of every family
            for family, old, new in made(random.Random(rng.random())):
                rows.append({"family": family, "old": old, "new": new, "label": label})
    seen: set[tuple[str, str]] = set()
    unique = []
    for row in rows:
        if (row["old"], row["new"]) not in seen and row["old"] != row["new"]:
            seen.add((row["old"], row["new"]))
            unique.append(row)
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in unique:
        groups.setdefault((row["family"], row["label"]), []).append(row)
    for members in groups.values():
        rng.shuffle(members)
        for index, row in enumerate(members):
            row["split"] = "dev" if index % 2 == 0 else "test"
    with OUT.open("w", encoding="utf-8") as handle:
        for index, row in enumerate(unique):
            handle.write(json.dumps({"id": f"u{index:03d}", **row}, ensure_ascii=False) + "\n")
    print(f"{len(unique)} pairs written to {OUT}")  # noqa: T201


if __name__ == "__main__":
    main()
