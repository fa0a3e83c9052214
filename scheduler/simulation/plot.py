"""``--plot``: intensity per zone over the simulated period, with the placed jobs below it.

One panel per region: the zone's true intensity (line) and, on a second axis, the GPUs in use
in that region (filled step), so deferrals into clean hours are visible at a glance. Uses
matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from scheduler.model import Region
from scheduler.simulation.accounting import RunSegment
from scheduler.simulation.engine import EngineRun

_MAX_POINTS = 4000


def plot_schedule(
    path: Path,
    run: EngineRun,
    segments: Sequence[RunSegment],
    regions: Sequence[Region],
    *,
    title: str,
) -> None:
    """Write a PNG with one panel per region: intensity and GPUs in use over time."""
    import matplotlib as mpl  # noqa: PLC0415  (slow import, only when plotting)

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    grid = run.grid
    step = max(1, grid.slots // _MAX_POINTS)
    slots = np.arange(0, grid.slots, step)
    times = [datetime.fromtimestamp(grid.time_s(int(s)), tz=UTC) for s in slots]
    fig, axes = plt.subplots(len(regions), 1, figsize=(11, 2.4 * len(regions) + 0.6), sharex=True)
    for ax, (index, region) in zip(np.atleast_1d(axes), enumerate(regions), strict=True):
        intensity = run.integrals[region.zone].slot_means(grid)[slots]
        ax.plot(times, intensity, color="tab:green", linewidth=0.8)
        ax.set_ylabel(f"{region.zone}\ngCO₂e/kWh", fontsize=8)
        ax.set_title(f"{region.name} ({region.gpus} GPUs)", fontsize=9, loc="left")
        gpus = _gpus_in_use(segments, index, grid.origin_s, grid.slot_s, grid.slots)[slots]
        twin = ax.twinx()
        twin.fill_between(times, gpus, step="post", color="tab:blue", alpha=0.3, linewidth=0)
        twin.set_ylabel("GPUs in use", fontsize=8)
        twin.set_ylim(0, max(1, region.gpus, int(gpus.max(initial=0))) * 1.05)
        ax.set_zorder(twin.get_zorder() + 1)  # the intensity line above the GPU fill
        ax.patch.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _gpus_in_use(
    segments: Sequence[RunSegment], region: int, origin_s: int, slot_s: int, slots: int
) -> np.ndarray:
    delta = np.zeros(slots + 1, dtype=np.int64)
    for seg in segments:
        if seg.region != region:
            continue
        first = (seg.start_s - origin_s) // slot_s
        last = min(slots, -(-(seg.end_s - origin_s) // slot_s))
        delta[first] += seg.gpus
        delta[last] -= seg.gpus
    return np.cumsum(delta)[:slots]
