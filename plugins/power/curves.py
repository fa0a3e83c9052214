"""``PowerCurve``: measured power draw and throughput of one workload as functions of the limit.

The shipped table ``plugins/power/data/power_curves.csv`` holds one curve per GPU type and
workload, derived by ``scripts/build_power_curves.py`` from the Zeus NSDI '23 traces
(https://github.com/ml-energy/zeus, Apache-2.0). Between measured limits the curves are
interpolated linearly; outside them they are clamped to the nearest measured limit.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib.resources import files

import numpy as np

#: The table shipped with carbonshift.
CURVES_RESOURCE = "data/power_curves.csv"


@dataclass(frozen=True, kw_only=True)
class CurvePoint:
    """One measured limit: seconds per epoch and average board power there."""

    limit_w: float
    time_per_epoch_s: float
    average_power_w: float


@dataclass(frozen=True, kw_only=True)
class PowerCurve:
    """A workload on a GPU type; ``points`` sorted by limit, the last one the fastest."""

    gpu: str
    workload: str
    points: tuple[CurvePoint, ...]

    @property
    def min_limit_w(self) -> float:
        """Lowest measured limit."""
        return self.points[0].limit_w

    @property
    def max_limit_w(self) -> float:
        """Highest measured limit (taken as the GPU's default limit)."""
        return self.points[-1].limit_w

    def power_w(self, limit_w: float) -> float:
        """Average draw at ``limit_w``."""
        return self._interp(limit_w, [p.average_power_w for p in self.points])

    def throughput(self, limit_w: float) -> float:
        """Work per second at ``limit_w`` relative to the highest limit (1.0 there)."""
        fastest = self.points[-1].time_per_epoch_s
        return self._interp(limit_w, [fastest / p.time_per_epoch_s for p in self.points])

    def _interp(self, limit_w: float, values: list[float]) -> float:
        limits = [p.limit_w for p in self.points]
        return float(np.interp(limit_w, limits, values))


def parse_curves(text: str) -> dict[tuple[str, str], PowerCurve]:
    """Curves keyed by (gpu, workload) from the CSV table (``#`` lines are comments)."""
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    grouped: dict[tuple[str, str], list[CurvePoint]] = {}
    for row in rows:
        point = CurvePoint(
            limit_w=float(row["power_limit_w"]),
            time_per_epoch_s=float(row["time_per_epoch_s"]),
            average_power_w=float(row["average_power_w"]),
        )
        grouped.setdefault((row["gpu"], row["workload"]), []).append(point)
    return {
        key: PowerCurve(
            gpu=key[0], workload=key[1], points=tuple(sorted(pts, key=lambda p: p.limit_w))
        )
        for key, pts in grouped.items()
    }


def shipped_curves() -> dict[tuple[str, str], PowerCurve]:
    """The table shipped in the package."""
    text = files("plugins.power").joinpath(CURVES_RESOURCE).read_text(encoding="utf-8")
    return parse_curves(text)


def shipped_curve(gpu: str, workload: str) -> PowerCurve:
    """One shipped curve; ``ValueError`` lists the choices when there is no such curve."""
    curves = shipped_curves()
    try:
        return curves[(gpu, workload)]
    except KeyError:
        choices = ", ".join(f"{g} {w}" for g, w in sorted(curves))
        raise ValueError(
            f"no power curve for gpu {gpu!r} and workload {workload!r}; choose one of: {choices}"
        ) from None
