"""Big Five traits (fixed per persona) and the PAD mood model (pleasure, arousal, dominance in [-1, 1]).

The baseline mood comes from the traits with Mehrabian's (1996) equations, which the seed's "PAD state fluctuates
around pad_baseline" needs but does not spell out. Traits are in [0, 1] here and are first centred to [-1, 1];
emotional stability is the opposite of neuroticism::

    pleasure  = 0.21·E + 0.59·A + 0.19·S
    arousal   = 0.15·O + 0.30·A − 0.57·S
    dominance = 0.25·O + 0.17·C + 0.60·E − 0.32·A

(A. Mehrabian, "Analysis of the Big-five Personality Factors in Terms of the PAD Temperament Model",
Australian Journal of Psychology 48(2), 1996; the same mapping drives ALMA, Gebhard 2005.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from typing_extensions import TypedDict


class PADValues(TypedDict):
    """A PAD point by name (:meth:`PAD.rounded`), as state and JSON carry it."""

    pleasure: float
    arousal: float
    dominance: float


TRAIT_NAMES: tuple[str, ...] = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
PAD_NAMES: tuple[str, ...] = ("pleasure", "arousal", "dominance")

#: PAD octant → emotion label (seed 003, ``PADState.to_emotion_octant``): keys are (P > 0, A > 0, D > 0).
OCTANT_LABELS: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "exuberant",
    (True, True, False): "bored",
    (True, False, True): "relaxed",
    (True, False, False): "sleepy",
    (False, True, True): "anxious",
    (False, True, False): "stressed",
    (False, False, True): "calm",
    (False, False, False): "depressed",
}


def clamp(value: float, low: float = -1.0, high: float = 1.0) -> float:
    """``value`` limited to [low, high]."""
    return max(low, min(high, value))


@dataclass(frozen=True, slots=True, kw_only=True)
class BigFive:
    """The five traits, each in [0, 1]; fixed for a persona."""

    openness: float
    conscientiousness: float
    extraversion: float
    agreeableness: float
    neuroticism: float

    def __post_init__(self) -> None:
        for name in TRAIT_NAMES:
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")

    def to_dict(self) -> dict[str, float]:
        """The traits by name."""
        return {name: float(getattr(self, name)) for name in TRAIT_NAMES}


@dataclass(frozen=True, slots=True, kw_only=True)
class PAD:
    """A point in PAD space. Values are clamped to [-1, 1] on creation."""

    pleasure: float = 0.0
    arousal: float = 0.0
    dominance: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "pleasure", clamp(float(self.pleasure)))
        object.__setattr__(self, "arousal", clamp(float(self.arousal)))
        object.__setattr__(self, "dominance", clamp(float(self.dominance)))

    def __add__(self, other: PAD) -> PAD:
        """Component-wise sum, clamped to [-1, 1] (seed test cases: 0.1 + 0.3 = 0.4; 0.8 + 0.5 = 1.0)."""
        return PAD(
            pleasure=self.pleasure + other.pleasure,
            arousal=self.arousal + other.arousal,
            dominance=self.dominance + other.dominance,
        )

    def toward(self, target: PAD, fraction: float) -> PAD:
        """The point ``fraction`` (0-1) of the way from here to ``target``."""
        return PAD(
            pleasure=self.pleasure + (target.pleasure - self.pleasure) * fraction,
            arousal=self.arousal + (target.arousal - self.arousal) * fraction,
            dominance=self.dominance + (target.dominance - self.dominance) * fraction,
        )

    def minus(self, other: PAD) -> PAD:
        """The (clamped) difference ``self − other``."""
        return PAD(
            pleasure=self.pleasure - other.pleasure,
            arousal=self.arousal - other.arousal,
            dominance=self.dominance - other.dominance,
        )

    @property
    def is_zero(self) -> bool:
        """True when every component is (practically) 0."""
        return max(abs(self.pleasure), abs(self.arousal), abs(self.dominance)) < 1e-9

    @property
    def label(self) -> str:
        """The octant's emotion label (exuberant, bored, relaxed, sleepy, anxious, stressed, calm, depressed)."""
        return OCTANT_LABELS[(self.pleasure > 0, self.arousal > 0, self.dominance > 0)]

    def rounded(self, digits: int = 4) -> PADValues:
        """The three values, rounded, by name."""
        return {
            "pleasure": round(self.pleasure, digits),
            "arousal": round(self.arousal, digits),
            "dominance": round(self.dominance, digits),
        }

    def to_dict(self) -> PADValues:
        """The three values by name."""
        return {"pleasure": self.pleasure, "arousal": self.arousal, "dominance": self.dominance}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PAD:
        """Inverse of :meth:`to_dict` (values clamped as on creation)."""
        # A stored state holds hundreds of points (the mood history), all read on every turn: filling the slots
        # directly costs a quarter of going through __init__ and __post_init__.
        point = object.__new__(cls)
        for name in PAD_NAMES:
            object.__setattr__(point, name, max(-1.0, min(1.0, float(data.get(name, 0.0)))))
        return point


def baseline_from_traits(traits: BigFive) -> PAD:
    """The resting mood of a personality (Mehrabian 1996; see the module docstring)."""
    o, c, e, a = (
        2.0 * value - 1.0
        for value in (traits.openness, traits.conscientiousness, traits.extraversion, traits.agreeableness)
    )
    s = 1.0 - 2.0 * traits.neuroticism  # emotional stability, centred
    return PAD(
        pleasure=0.21 * e + 0.59 * a + 0.19 * s,
        arousal=0.15 * o + 0.30 * a - 0.57 * s,
        dominance=0.25 * o + 0.17 * c + 0.60 * e - 0.32 * a,
    )
