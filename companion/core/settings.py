"""All configuration, read once from ``COMPANION_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from companion.core.errors import ConfigurationError

#: An admin id: a platform's numeric user id, optionally prefixed with the platform.
ADMIN_ID_PATTERN = re.compile(r"^(?:(?:telegram|discord):)?[0-9]{1,20}$")
#: scheme://host[:port], as a browser sends it in the Origin header.
CORS_ORIGIN_PATTERN = re.compile(r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?$")
#: The schemes each URL setting may start with.
URL_SCHEMES: dict[str, tuple[str, ...]] = {
    "redis_url": ("redis://", "rediss://", "unix://"),
    "chroma_url": ("http://", "https://"),
    "telegram_api_base": ("http://", "https://"),
}


def default_data_dir() -> Path:
    """Where embedded stores keep their files: ``$XDG_DATA_HOME/companion`` or ``~/.local/share/companion``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "companion"


class Settings(BaseSettings):
    """Every setting of the project. Environment variables use the ``COMPANION_`` prefix."""

    model_config = SettingsConfigDict(
        env_prefix="COMPANION_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory for embedded Redis, Chroma, the checkpointer database and model caches.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis >= 6.2 to use (redis://, rediss:// or unix://). Unset: an embedded server under data_dir.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="Chroma server URL (http://host:port). Unset: embedded Chroma under data_dir.",
    )
    chroma_path: Path | None = Field(
        default=None, description="Directory of the embedded Chroma store. Default: data_dir/chroma."
    )
    chat_model: str | None = Field(
        default=None,
        description="Chat model as 'provider:model' for init_chat_model, e.g. 'openai:gpt-4o-mini'. "
        "Unset: the offline responder answers.",
    )
    openai_api_key: SecretStr | None = Field(default=None, description="Passed to OpenAI models if set.")
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key sealing secret and ultrasecret memories at rest. Unset: data_dir/encryption.key, "
        "generated on first use. Machines sharing a Chroma server must share it.",
    )
    openai_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint, if not OpenAI.")
    persona: str = Field(default="default", description="Persona name.")
    max_message_chars: int = Field(default=4000, ge=1, le=100_000, description="Longest accepted message.")
    context_turns: int = Field(default=20, ge=1, le=500, description="Recent turns kept in short-term memory.")
    retrieval_k: int = Field(default=5, ge=1, le=50, description="Memories retrieved per turn.")
    retrieval_candidates: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="Nearest memories MMR chooses from per turn; 0: 5 per retrieved memory, at most 50. More finds "
        "a little more (LoCoMo recall@10 0.677 -> 0.690 at 300) and costs time per turn (2.8x per query).",
    )
    lexical_index: bool = Field(
        default=True,
        description="Keep a lexical (BM25) index of memory texts in the data dir (lexical/, a file per user) and add "
        "its best word matches to each turn's candidates (hybrid retrieval). Derived from Chroma, rebuilt from it "
        "when missing.",
    )
    max_request_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Longest request body the REST service reads, in bytes: a longer one gets 413 before it is "
        "parsed or its API key checked (the largest route, POST .../raw, takes up to a million characters).",
    )
    cors_origins: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated origins a browser front-end may call the REST API from "
        "('https://app.example.com'); '*' allows any. Unset: no cross-origin access.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="'json': one JSON object per log line, with the REST request's id."
    )
    rate_limit_per_user: int = Field(default=30, ge=1, description="Messages per minute per user.")
    rate_limit_global: int = Field(default=10_000, ge=1, description="Messages per minute, all users together.")
    active_ttl_seconds: int = Field(default=24 * 3600, ge=60, description="Short-term TTL for active users.")
    inactive_ttl_seconds: int = Field(default=3600, ge=60, description="Short-term TTL for inactive users.")
    injection_cooldown_seconds: int = Field(
        default=900,
        ge=1,
        le=7 * 24 * 3600,
        description="Cooldown after a second injection attempt within the offence window.",
    )
    injection_threshold: float = Field(
        default=0.7,
        gt=0,
        le=1,
        description="Injection score (rules, perception model, the chat model's second opinion) from which a message "
        "is flagged (seed 003's security confidence threshold). Higher: fewer, surer detections.",
    )
    injection_offence_window_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Days an injection offence counts toward escalation (warning, cooldown, block) and a block lasts.",
    )
    mood_drift_rate: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Share of the way the mood's baseline moves each day toward the 7-day average mood (seed 003: "
        "0.01, 1 % a day; 0: the baseline never drifts).",
    )
    quirk_reinforcement_rate: float = Field(
        default=0.05, ge=0, le=1, description="Strength a quirk gains on a day its pattern showed (seed 003: 0.05)."
    )
    quirk_decay_rate: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Strength a quirk loses after 7 days without its pattern (seed 003's rule: 0.1); below 0.05 it "
        "is dropped.",
    )
    crisis_resources: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Where the companion points a user whose message signals a crisis (self-harm, abuse): your "
        "country's crisis lines and emergency number, checked by you. Unset: the persona file's crisis_resources, "
        "else a text that says to contact local emergency services or a crisis line (never a made-up number).",
    )
    discord_token: SecretStr | None = Field(default=None, description="Discord bot token (`companion bot discord`).")
    telegram_token: SecretStr | None = Field(default=None, description="Telegram bot token (`companion bot telegram`).")
    telegram_api_base: str | None = Field(
        default=None,
        description="Bot API server for the Telegram bot (a self-hosted telegram-bot-api). Unset: api.telegram.org.",
    )
    admin_ids: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated platform user ids of the companion's admins: a bare id ('1234') matches on "
        "every platform, a prefixed one ('telegram:1234', 'discord:1234') on that platform only.",
    )
    chat_temperature: float = Field(
        default=0.7, ge=0, le=2, description="Sampling temperature of the chat model's replies (seed 004: 0.7)."
    )
    chat_max_tokens: int = Field(
        default=150, ge=16, le=8192, description="Longest reply the chat model may write, in tokens (seed 004: 150)."
    )
    proactive_max_per_day: int = Field(
        default=3, ge=0, le=24, description="Outreaches a user gets at most in one local day (0: none at all)."
    )
    background: bool = Field(
        default=True,
        description="Run the association/ingestion worker and the scheduler inside `companion serve` and the bots. "
        "Turn off where `companion worker` and `companion scheduler` run as processes of their own.",
    )
    association_interval_seconds: float = Field(
        default=15.0, gt=0, le=86400, description="How often the association worker looks at its queue."
    )
    association_llm_per_minute: int = Field(
        default=5, ge=1, description="Chat-model calls the association worker may make per minute (all workers)."
    )
    association_batch_size: int = Field(default=256, ge=1, le=10_000, description="Queue entries read per tick.")
    association_claim_idle_seconds: float = Field(
        default=60.0, gt=0, description="Pending entries idle this long (their worker died) are taken over."
    )
    association_lock_seconds: float = Field(
        default=30.0, gt=0, description="Expiry of a worker's per-user lock (if the worker dies holding it)."
    )
    association_max_retries: int = Field(default=3, ge=0, le=20, description="Retries before a dead letter.")
    raw_retention_days: float = Field(default=30.0, gt=0, description="Days an ingested raw transcript is kept.")
    session_retention_days: float = Field(
        default=365.0,
        gt=0,
        description="Days a processed session's summary is kept after its last submission (its memories stay).",
    )
    blas_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Threads numpy's BLAS may use in a process that serves turns. Its matrices are small (a "
        "recall's 50 candidates, a message against the detector's exemplars), and waking a thread pool for them costs "
        "more than the work, most of all on a busy machine; requests run in parallel instead.",
    )
    personality_checkpoint_turns: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Chat turns between two durable (Chroma) writes of a personality state; the turns in between "
        "are replayed from their memories.",
    )

    @field_validator("data_dir", "chroma_path", mode="before")
    @classmethod
    def _check_directory(cls, value: object) -> object:
        # An empty variable would become Path("") (the working directory): unset it to get the default instead.
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty; unset it for the default or give a directory")
        return value

    @field_validator(*URL_SCHEMES)
    @classmethod
    def _check_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        schemes = URL_SCHEMES[info.field_name or ""]
        if value and not value.startswith(schemes):
            raise ValueError(f"must start with {', '.join(schemes[:-1])} or {schemes[-1]}")
        if value and info.field_name == "telegram_api_base":
            return value.rstrip("/")
        return value or None

    @field_validator("chat_model")
    @classmethod
    def _check_chat_model(cls, value: str | None) -> str | None:
        if value and ":" not in value:
            raise ValueError("must look like 'provider:model', e.g. 'openai:gpt-4o-mini'")
        return value or None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_cors_origins(cls, value: object) -> frozenset[str]:
        items = value.split(",") if isinstance(value, str) else list(value or [])  # type: ignore[call-overload]
        origins = {str(item).strip().rstrip("/") for item in items if str(item).strip()}
        for origin in origins:
            if origin != "*" and not CORS_ORIGIN_PATTERN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin like 'https://app.example.com' (or '*')")
        return frozenset(origins)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> frozenset[str]:
        items = value.split(",") if isinstance(value, str) else list(value or [])  # type: ignore[call-overload]
        ids = {str(item).strip() for item in items if str(item).strip()}
        for item in ids:
            if not ADMIN_ID_PATTERN.fullmatch(item):
                raise ValueError(f"{item!r} is not a user id (digits, optionally prefixed 'telegram:' or 'discord:')")
        return frozenset(ids)

    @property
    def resolved_chroma_path(self) -> Path:
        """The embedded Chroma directory."""
        return self.chroma_path or self.data_dir / "chroma"


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one-line ``ConfigurationError``s."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        env_name = f"COMPANION_{field.upper()}"
        raise ConfigurationError(f"invalid setting {env_name}: {first['msg']}") from None


ENV_PREFIX = "COMPANION_"


def unknown_variables(environ: Mapping[str, str], env_file: Path | None = Path(".env")) -> list[str]:
    """One warning per ``COMPANION_*`` variable (environment or ``.env`` file) that is no setting.

    pydantic-settings ignores them, so a misspelling (``COMPANION_RETRIEVAL_KK=3``) would silently change nothing;
    the warning names the closest setting.
    """
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    names = {name.upper() for name in environ if name.upper().startswith(ENV_PREFIX)}
    if env_file is not None and env_file.is_file():
        names |= {name.upper() for name in dotenv_values(env_file) if name.upper().startswith(ENV_PREFIX)}
    warnings = []
    for name in sorted(names - known):
        # compare what follows the prefix: the shared prefix alone would make every name look close
        suffixes = sorted(known_name.removeprefix(ENV_PREFIX) for known_name in known)
        close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), suffixes, n=1, cutoff=0.6)
        hint = f"; did you mean {ENV_PREFIX}{close[0]}?" if close else " (see the README's configuration table)"
        warnings.append(f"{name} is not a setting and is ignored{hint}")
    return warnings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
