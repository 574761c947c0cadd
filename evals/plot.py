"""A PNG of a result next to its JSON: one bar per metric (rates on a 0-1 axis, counts annotated).

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
    return name in {"probes", "leaks", "leaked_memories", "passed", "failed", "unjudged", "cases", "questions"}
