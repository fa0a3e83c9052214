"""The simulation's slot grid, and exact integrals of intensity step functions.

The grid starts at the slot boundary (epoch-aligned) at or before the first submission and
ends at or after the last deadline. A job may start at the first slot boundary at or after its
submission and must end by the last boundary at or before its deadline.

Intensities are step functions (``IntensityTrace``); their running integral is piecewise
linear, so ``np.interp`` on the integral at the breakpoints integrates any interval exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from scheduler.errors import ScenarioError
from scheduler.model import IntensityTrace

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True, slots=True)
class SlotGrid:
    """Slots ``[origin_s + t·slot_s, origin_s + (t+1)·slot_s)`` for ``0 ≤ t < slots``."""

    origin_s: int
    slot_s: int
    slots: int

    @classmethod
    def covering(cls, start_s: int, end_s: int, slot_s: int) -> SlotGrid:
        """The epoch-aligned grid from the boundary at/before ``start_s`` to at/after ``end_s``."""
        origin = start_s // slot_s * slot_s
        return cls(origin_s=origin, slot_s=slot_s, slots=max(1, -(-(end_s - origin) // slot_s)))

    def ceil_slot(self, at_s: int) -> int:
        """The first slot starting at or after ``at_s``."""
        return -(-(at_s - self.origin_s) // self.slot_s)

    def floor_slot(self, at_s: int) -> int:
        """The slot boundary at or before ``at_s``, as a slot index."""
        return (at_s - self.origin_s) // self.slot_s

    def time_s(self, slot: int) -> int:
        """Start of ``slot`` in epoch seconds."""
        return self.origin_s + slot * self.slot_s

    def time(self, slot: int) -> datetime:
        """Start of ``slot`` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time_s(slot), tz=UTC)

    @property
    def end_s(self) -> int:
        """End of the last slot."""
        return self.time_s(self.slots)


class StepIntegral:
    """Exact integrals of one zone's intensity step function, in g/kWh × seconds."""

    def __init__(self, trace: IntensityTrace) -> None:
        self.zone = trace.zone
        self.first_s = int(trace.start_s[0])
        self.end_s = trace.end_s
        self._x = np.append(trace.start_s, trace.end_s).astype(np.float64)
        widths = np.diff(self._x)
        self._cum = np.concatenate(([0.0], np.cumsum(trace.g_per_kwh * widths)))
        self.mean_g_per_kwh = float(self._cum[-1] / (self.end_s - self.first_s))

    def integral(self, start_s: npt.ArrayLike, end_s: npt.ArrayLike) -> FloatArray:
        """∫ intensity dt over ``[start_s, end_s)`` (arrays broadcast), g/kWh × s."""
        lo = np.interp(np.asarray(start_s, dtype=np.float64), self._x, self._cum)
        hi = np.interp(np.asarray(end_s, dtype=np.float64), self._x, self._cum)
        return np.asarray(hi - lo, dtype=np.float64)

    def slot_means(self, grid: SlotGrid, first: int = 0, count: int | None = None) -> FloatArray:
        """Mean intensity of each slot ``first … first + count − 1`` (g/kWh)."""
        n = grid.slots - first if count is None else count
        edges = grid.origin_s + (first + np.arange(n + 1, dtype=np.int64)) * grid.slot_s
        return np.diff(np.interp(edges.astype(np.float64), self._x, self._cum)) / grid.slot_s

    def check_covers(self, start_s: int, end_s: int, what: str) -> None:
        """Raise ``ScenarioError`` unless the trace covers ``[start_s, end_s)``."""
        if self.first_s <= start_s and end_s <= self.end_s:
            return

        def iso(at_s: int) -> str:
            return datetime.fromtimestamp(at_s, tz=UTC).isoformat()

        raise ScenarioError(
            f"carbon trace for zone {self.zone} covers {iso(self.first_s)} to "
            f"{iso(self.end_s)}, but {what} needs {iso(start_s)} to {iso(end_s)}; "
            "pass a carbon file that covers that period"
        )
