"""Personas: a name, a speaking style, a backstory and fixed Big Five traits, from ``companion/personas/<name>.toml``.

An optional ``crisis_resources`` string says where the persona points a user in crisis (see ``tools/care.py``).

``COMPANION_PERSONA`` selects one by name (a file in :data:`PERSONAS_DIR`) or by path to a ``.toml`` file.
A malformed file is a one-line :class:`~companion.core.errors.ConfigurationError` naming the file and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typing_extensions import TypedDict

from companion.core.errors import ConfigurationError
from companion.core.personality.traits import PAD, TRAIT_NAMES, BigFive, baseline_from_traits

#: Where persona files live: ``companion/personas/``, package data, so an installed wheel has them too.
PERSONAS_DIR = Path(__file__).resolve().parents[2] / "personas"
PERSONA_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class PersonaError(ConfigurationError):
    """A persona file is missing or malformed."""


class PersonaData(TypedDict):
    """:meth:`Persona.to_dict`: the persona as the conversation state and the API carry it."""

    key: str
    name: str
    style: str
    backstory: str
    traits: dict[str, float]  # the Big Five by name (traits.TRAIT_NAMES)
    crisis_resources: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Persona:
    """Who the companion is. ``key`` is the persona's file name (``default``), ``name`` how it calls itself."""

    key: str
    name: str
    style: str
    backstory: str
    traits: BigFive
    #: Where to point a user in crisis (``crisis_resources`` in the file; empty: the setting or the default).
    crisis_resources: str = ""

    @property
    def baseline(self) -> PAD:
        """The resting mood these traits give."""
        return baseline_from_traits(self.traits)

    def to_dict(self) -> PersonaData:
        """A JSON-able dict."""
        return {
            "key": self.key,
            "name": self.name,
            "style": self.style,
            "backstory": self.backstory,
            "traits": self.traits.to_dict(),
            "crisis_resources": self.crisis_resources,
        }


def available_personas(directory: Path = PERSONAS_DIR) -> list[str]:
    """Names of the persona files in ``directory``."""
    return sorted(path.stem for path in directory.glob("*.toml"))


def persona_path(name_or_path: str, directory: Path = PERSONAS_DIR) -> Path:
    """The file of a persona given by name (``default``) or path (``./my.toml``)."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        return Path(name_or_path).expanduser()
    if not PERSONA_NAME_PATTERN.fullmatch(name_or_path):
        raise PersonaError(f"invalid persona name {name_or_path!r}: use lowercase letters, digits, _ or -")
    path = directory / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(available_personas(directory)) or "none"
        raise PersonaError(f"unknown persona {name_or_path!r} (COMPANION_PERSONA); available: {known}")
    return path


def load_persona(name_or_path: str = "default", directory: Path = PERSONAS_DIR) -> Persona:
    """Read and check one persona file."""
    path = persona_path(name_or_path, directory)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PersonaError(f"cannot read persona file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PersonaError(f"persona file {path} is not valid TOML: {exc}") from None
    return parse_persona(data, key=path.stem, source=str(path))


def parse_persona(data: Mapping[str, Any], *, key: str, source: str = "persona") -> Persona:
    """A :class:`Persona` from parsed TOML; errors name ``source`` and the field."""
    fields: dict[str, str] = {}
    for field in ("name", "style", "backstory"):
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            raise PersonaError(f"{source}: field '{field}' must be a non-empty string")
        fields[field] = " ".join(value.split())
    resources = data.get("crisis_resources", "")
    if not isinstance(resources, str):
        raise PersonaError(f"{source}: field 'crisis_resources' must be a string")
    traits = data.get("traits")
    if not isinstance(traits, dict):
        raise PersonaError(f"{source}: missing table [traits] with {', '.join(TRAIT_NAMES)}")
    unknown = sorted(set(traits) - set(TRAIT_NAMES))
    if unknown:
        raise PersonaError(f"{source}: unknown trait 'traits.{unknown[0]}'")
    values: dict[str, float] = {}
    for trait in TRAIT_NAMES:
        value = traits.get(trait)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise PersonaError(f"{source}: field 'traits.{trait}' must be a number between 0 and 1, got {value!r}")
        values[trait] = float(value)
    return Persona(key=key, traits=BigFive(**values), crisis_resources=" ".join(resources.split()), **fields)
