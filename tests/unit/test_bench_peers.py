"""The bookkeeping of bench/peers.py (ratios, rotation, growth), checked by hand. Not its speed."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_bench_peers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_peers", ROOT / "bench" / "peers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_peers"] = module
    spec.loader.exec_module(module)
    return module


peers = load_bench_peers()


def test_ratios_divide_this_project_by_each_other_system() -> None:
    wall = {"companion": [30.0, 40.0, 50.0], "floor": [10.0, 10.0, 10.0], "mem0": [60.0, 80.0, 100.0]}
    cpu = {"companion": [30.0, 30.0, 30.0], "floor": [5.0, 10.0, 15.0], "mem0": [60.0, 60.0, 60.0]}
    summary = peers.summarize(wall, cpu)
    assert summary["companion"]["wall_ms"]["p50"] == 40.0
    assert summary["companion"]["wall_ms"]["p95"] == pytest.approx(49.0)
    assert summary["floor"]["cpu_ms"]["mean"] == 10.0

    ratios = peers.ratios(summary)
    assert set(ratios) == {"floor", "mem0"}  # not ours ÷ ours
    assert ratios["floor"] == {"p50": 4.0, "p95": 4.9, "cpu": 3.0}
    assert ratios["mem0"] == {"p50": 0.5, "p95": pytest.approx(0.5), "cpu": 0.5}


def test_every_system_goes_first_equally_often() -> None:
    systems = ["a", "b", "c"]
    orders = [peers.rotated(systems, turn) for turn in range(6)]
    assert orders[0] == ["a", "b", "c"]
    assert orders[1] == ["b", "c", "a"]
    assert orders[3] == orders[0]
    assert sorted(order[0] for order in orders) == ["a", "a", "b", "b", "c", "c"]
    assert all(sorted(order) == systems for order in orders)


def test_growth_is_each_size_over_the_smallest() -> None:
    def result(n: int, p50: float, cpu: float) -> dict:
        return {"n": n, "summary": {"companion": {"wall_ms": {"p50": p50}, "cpu_ms": {"mean": cpu}}}}

    grown = peers.growth([result(1000, 40.0, 50.0), result(10000, 48.0, 50.0), result(100000, 80.0, 75.0)])
    assert grown["companion"] == {
        "p50 10000/1000": 1.2,
        "cpu 10000/1000": 1.0,
        "p50 100000/1000": 2.0,
        "cpu 100000/1000": 1.5,
    }
    assert peers.growth([result(1000, 40.0, 50.0)]) == {}
