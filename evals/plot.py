"""A PNG of a result next to its JSON: one bar per metric (rates on a 0-1 axis, counts annotated).

A result that compares systems in the same run (``systems``, e.g. the detector and its baseline) gets grouped
bars instead: one group per rate metric named ``<system>.<metric>``, one bar per system, and a dashed mark at the
metric's target when ``details["targets"]`` names one (``{"recall": [">=", 0.95]}``).

matplotlib (Agg backend, no display needed) is a development dependency (``./scripts/setup --dev``); without it
no plot is written and the result says why.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STATUS_COLOURS = {"measured": "#4c72b0", "passed": "#55a868", "failed": "#c44e52", "not_run": "#b0b0b0"}


def write_plot(result: dict[str, Any], path: Path) -> str | None:
    """Draw ``result`` to ``path``; return the path written, or ``None`` if matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed (./scripts/setup --dev): no plot written")
        return None
    if result.get("systems"):
        figure = _systems_figure(plt, result)
        try:
            figure.savefig(path)
        finally:
            plt.close(figure)
        return str(path)
    status = result["status"]
    metrics: dict[str, float] = result["metrics"]
    rates = {k: v for k, v in metrics.items() if 0.0 <= v <= 1.0 and not _is_count(k)}
    counts = {k: v for k, v in metrics.items() if k not in rates}
    figure, axis = plt.subplots(figsize=(max(5.5, 1.1 * len(rates) + 2.5), 3.6), dpi=110)
    try:
        title = f"{result['suite']}: {status.upper().replace('_', ' ')}"
        if rates:
            bars = axis.bar(list(rates), list(rates.values()), color=STATUS_COLOURS.get(status, "#4c72b0"))
            axis.bar_label(bars, labels=[f"{v:.3f}" for v in rates.values()], padding=2, fontsize=8)
            axis.set_ylim(0, 1.1)
            axis.set_ylabel("rate")
        else:
            axis.set_axis_off()
        notes = [f"{k} = {v:g}" for k, v in counts.items()]
        if result.get("message"):
            notes.append(result["message"])
        if notes:
            axis.text(
                0.0,
                -0.22 if rates else 0.5,
                "\n".join(notes),
                transform=axis.transAxes,
                fontsize=8,
                va="top",
                wrap=True,
            )
        axis.set_title(
            f"{title}\ndataset sha256 {(result['dataset']['sha256'] or 'n/a')[:12]}, {result['started_at'][:16]}",
            fontsize=9,
        )
        figure.tight_layout()
        figure.savefig(path)
    finally:
        plt.close(figure)
    return str(path)


def _is_count(name: str) -> bool:
    return name in {"probes", "leaks", "leaked_memories", "passed", "failed", "unjudged", "cases", "questions"} or (
        name.startswith("n_")
    )


SYSTEM_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#8172b3")


def _systems_figure(plt: Any, result: dict[str, Any]) -> Any:
    """Grouped bars: each rate metric shared by the systems, one bar per system, targets marked."""
    systems: list[str] = list(result["systems"])
    metrics: dict[str, float] = result["metrics"]
    names: list[str] = []
    for key in metrics:
        system, _, name = key.partition(".")
        if system in systems and name and name not in names and 0.0 <= metrics[key] <= 1.0 and not _is_count(name):
            names.append(name)
    targets: dict[str, Any] = result.get("details", {}).get("targets", {})
    width = 0.8 / max(len(systems), 1)
    figure, axis = plt.subplots(figsize=(min(16.0, max(6.5, 0.9 * len(names) * len(systems) + 2.5)), 5.0), dpi=110)
    for index, system in enumerate(systems):
        values = [metrics.get(f"{system}.{name}", float("nan")) for name in names]
        positions = [i + (index - (len(systems) - 1) / 2) * width for i in range(len(names))]
        bars = axis.bar(positions, values, width, label=system, color=SYSTEM_COLOURS[index % len(SYSTEM_COLOURS)])
        axis.bar_label(bars, labels=[_rate_label(v) for v in values], padding=2, fontsize=7, rotation=90)
    for i, name in enumerate(names):
        if name in targets:
            sign, value = targets[name]
            axis.hlines(value, i - 0.45, i + 0.45, colors="#c44e52", linestyles="dashed", linewidth=1.2)
            axis.annotate(
                f"target {sign} {_rate_label(value)}", (i, value), fontsize=6, color="#c44e52", ha="center", va="bottom"
            )
    axis.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
    axis.set_ylim(0, 1.2)
    axis.set_ylabel("rate")
    axis.legend(fontsize=8, loc="upper right")
    counts = {k: v for k, v in metrics.items() if k.partition(".")[0] not in systems or _is_count(k.partition(".")[2])}
    notes = ", ".join(f"{k} = {v:g}" for k, v in counts.items())
    axis.set_title(f"{result['suite']}: {', '.join(systems)} in one run, {result['started_at'][:10]}", fontsize=9)
    if notes:
        figure.text(0.01, 0.01, notes, fontsize=7, va="bottom", wrap=True)
    figure.tight_layout(rect=(0, 0.05 if notes else 0, 1, 1))
    return figure


def _rate_label(value: float) -> str:
    if value != value:  # NaN: this system has no such metric
        return ""
    return f"{value:.2%}" if 0 < value < 0.01 else f"{value:.3f}"
