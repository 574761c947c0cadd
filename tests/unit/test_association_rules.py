"""The seed's association rules and numbers (tools/association.py) and the prompts' placeholders."""

import string

import pytest

import prompts.association
from tools.association import (
    Decision,
    ScoredRelation,
    decide,
    importance_points,
    is_emotional_signal,
    local_strength,
)


def rel(memory_id: str, strength: float, *, semantic: bool = True) -> ScoredRelation:
    return ScoredRelation(memory_id=memory_id, strength=strength, reason="r", semantic=semantic)


def test_only_intensity_above_30_is_an_emotional_signal() -> None:
    assert not is_emotional_signal(30, "joy")
    assert is_emotional_signal(31, "joy")
    assert not is_emotional_signal(90, "neutral")


def test_importance_above_500_without_a_strong_match_is_a_new_memory_related_to_the_top_five() -> None:
    relations = [rel(f"m{i}", 60.0 - i) for i in range(7)]  # 60.0 is not "> 60"
    decision, target, chosen = decide(501, relations)
    assert decision is Decision.NEW_MEMORY and target is None
    assert [r.memory_id for r in chosen] == ["m0", "m1", "m2", "m3", "m4"]


def test_importance_500_is_not_enough_for_a_new_memory() -> None:
    decision, _, chosen = decide(500, [rel("a", 40), rel("b", 30), rel("c", 25), rel("d", 21)])
    assert decision is Decision.WEAK_RELATIONS
    assert [r.memory_id for r in chosen] == ["a", "b", "c"]


def test_strong_semantic_match_is_versioned_and_related_to_three_others() -> None:
    relations = [rel("target", 60.1), rel("a", 55), rel("b", 50), rel("c", 45), rel("d", 40)]
    decision, target, chosen = decide(900, relations)
    assert decision is Decision.NEW_VERSION and target == "target"
    assert [r.memory_id for r in chosen] == ["a", "b", "c"]


def test_a_strong_episodic_match_is_never_rewritten() -> None:
    decision, target, _ = decide(300, [rel("message", 95, semantic=False), rel("fact", 70)])
    assert decision is Decision.NEW_VERSION and target == "fact"
    decision, target, _ = decide(300, [rel("message", 95, semantic=False)])
    assert decision is Decision.WEAK_RELATIONS and target is None


def test_nothing_related_is_no_action() -> None:
    assert decide(300, []) == (Decision.NO_ACTION, None, [])


def test_local_strength_follows_the_documented_formula() -> None:
    assert local_strength(0.25, same_category=True, same_emotion=True) == 0.0  # unrelated whatever the labels
    assert local_strength(0.75, same_category=False, same_emotion=False) == 70.0
    assert local_strength(0.95, same_category=True, same_emotion=True) == 100.0
    assert local_strength(0.5, same_category=True, same_emotion=False) == pytest.approx(100 * (0.7 * 0.5 + 0.15))


def test_importance_reads_both_scales() -> None:
    assert importance_points(0.5) == 500
    assert importance_points(700) == 700


EXPECTED_KEYS = {
    "RELATION_SCORING_PROMPT": {"message", "candidates"},
    "RELATION_CANDIDATE_LINE": {"index", "text"},
    "MERGE_MEMORY_PROMPT": {"existing", "new_info", "emotion"},
    "SESSION_SUMMARY_PROMPT": {"transcript"},
    "SESSION_FACTS_PROMPT": {"transcript"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_KEYS))
def test_association_prompt_placeholders_match_what_the_code_passes(name: str) -> None:
    template = getattr(prompts.association, name)
    found = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    assert found == EXPECTED_KEYS[name]
    template.format(**{key: "x" for key in found})  # formats without error (escaped JSON braces)


def test_every_association_prompt_is_checked() -> None:
    names = {n for n, v in vars(prompts.association).items() if n.isupper() and isinstance(v, str)}
    assert names == set(EXPECTED_KEYS)
