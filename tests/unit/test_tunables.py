"""The seed's tunables are settings: the chat model's temperature and reply length, and the daily outreach cap."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from langchain_openai import ChatOpenAI

from companion.services import build_chat_model
from companion.settings import load_settings
from tools.proactive import guardrail

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp()


def test_the_chat_model_gets_the_seeds_temperature_and_reply_length_unless_set(tmp_path: object) -> None:
    default = build_chat_model(load_settings(data_dir=tmp_path, chat_model="openai:gpt-4o-mini", openai_api_key="sk-x"))
    assert isinstance(default, ChatOpenAI) and default.temperature == 0.7 and default.max_tokens == 150
    tuned = build_chat_model(
        load_settings(
            data_dir=tmp_path,
            chat_model="openai:gpt-4o-mini",
            openai_api_key="sk-x",
            chat_temperature=0.2,
            chat_max_tokens=400,
        )
    )
    assert isinstance(tuned, ChatOpenAI) and tuned.temperature == 0.2 and tuned.max_tokens == 400


def _blocked(sent: list[float], **kwargs: int) -> str | None:
    return guardrail(
        now=NOON,
        timezone="UTC",
        quiet_start=22,
        quiet_end=8,
        opt_out=False,
        sent=sent,
        declined_at=None,
        last_message_at=NOON - 60,
        **kwargs,
    )


def test_the_daily_outreach_cap_is_the_setting() -> None:
    two_today = [NOON - 10 * 3600, NOON - 5 * 3600]
    assert _blocked(two_today) is None  # the seed's 3 a day
    assert _blocked(two_today, max_per_day=2) == "already 2 outreaches today (max 2)"
    assert _blocked([], max_per_day=0) == "already 0 outreaches today (max 0)"
    assert load_settings(proactive_max_per_day="1").proactive_max_per_day == 1


def test_needs_at_the_same_level_are_told_apart_by_their_outreach_weight_not_their_names() -> None:
    from tools.proactive import most_urgent_need

    assert most_urgent_need({"validation": 0.9, "social": 0.9, "rest": 0.9}) == "social"
    assert most_urgent_need({"validation": 0.9, "intellectual": 0.9}) == "validation"
    assert most_urgent_need({"validation": 0.95, "social": 0.9}) == "validation"  # the level comes first
    assert most_urgent_need({"social": 0.1}) is None


# -- needs: the seed's proactive_weight --------------------------------------------------------------------------
def test_each_need_has_the_seeds_proactive_weight_of_1() -> None:
    from companion.personality.needs import NEED_NAMES, PROACTIVE_WEIGHT, TRIGGER_THRESHOLD
    from tools.proactive import NEED_TRIGGER_THRESHOLD

    assert PROACTIVE_WEIGHT == dict.fromkeys(NEED_NAMES, 1.0)
    assert NEED_TRIGGER_THRESHOLD is TRIGGER_THRESHOLD  # one threshold, kept with the need definitions


def test_a_needs_proactive_weight_scales_its_share_of_the_need_urgency() -> None:
    from tools.proactive import most_urgent_need, need_urgency

    # the seed: urgency x need_weights[type] x need.proactive_weight
    assert need_urgency({"social": 1.0}) == pytest.approx(0.35)
    assert need_urgency({"social": 1.0}, proactive_weights={"social": 2.0}) == pytest.approx(0.7)
    both = {"social": 0.9, "validation": 1.0}
    assert need_urgency(both, proactive_weights={"social": 0.0, "validation": 1.0}) == pytest.approx(0.25)
    assert need_urgency(both, proactive_weights={"social": 1.0, "validation": 0.5}) == pytest.approx(0.175 + 0.125)
    tied = {"social": 0.9, "validation": 0.9}
    assert most_urgent_need(tied) == "social"
    assert most_urgent_need(tied, {"social": 0.5, "validation": 1.0}) == "validation"  # 0.175 < 0.25
