"""The run history chart: records synced and errors per run, drawn as inline SVG by the
template from the points computed here (no JavaScript, nothing fetched)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from integrations.models import SyncRun

WIDTH = 600
HEIGHT = 160
PAD_LEFT = 40
PAD_BOTTOM = 20
PAD_TOP = 10


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    synced_y: float
    synced_height: float
    errors_x: float
    errors_y: float
    errors_height: float
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    top: int
    baseline: float
    left: int
    peak: int
    bars: tuple[Bar, ...]
    first_label: str
    last_label: str

    @property
    def mid(self) -> float:
        return (self.top + self.baseline) / 2


def run_chart(runs: Sequence[SyncRun]) -> Chart | None:
    """Oldest run first; one pair of bars per run (records written, records failed)."""
    real = sorted(
        (run for run in runs if not run.dry_run), key=lambda run: (run.started_at, run.pk)
    )
    if not real:
        return None
    peak = max(max(run.writes, run.failed) for run in real) or 1
    plot_width = WIDTH - PAD_LEFT
    plot_height = HEIGHT - PAD_BOTTOM - PAD_TOP
    baseline = HEIGHT - PAD_BOTTOM
    slot = plot_width / len(real)
    bar = max(slot / 2 - 1, 1)
    bars = []
    for index, run in enumerate(real):
        synced_h = run.writes / peak * plot_height
        errors_h = run.failed / peak * plot_height
        x = PAD_LEFT + index * slot
        bars.append(
            Bar(
                x=round(x, 1),
                width=round(bar, 1),
                synced_y=round(baseline - synced_h, 1),
                synced_height=round(synced_h, 1),
                errors_x=round(x + bar, 1),
                errors_y=round(baseline - errors_h, 1),
                errors_height=round(errors_h, 1),
                title=(
                    f"{run.started_at:%Y-%m-%d %H:%M}: {run.writes} synced, {run.failed} failed"
                ),
            )
        )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        top=PAD_TOP,
        baseline=baseline,
        left=PAD_LEFT,
        peak=peak,
        bars=tuple(bars),
        first_label=f"{real[0].started_at:%b %d %H:%M}",
        last_label=f"{real[-1].started_at:%b %d %H:%M}",
    )
