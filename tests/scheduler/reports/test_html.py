"""The HTML report and its SVG charts."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forecasts.static import StaticProvider
from plugins.ledgers.memory import MemoryLedger
from scheduler.cli.report import write_report
from scheduler.clock import FakeClock
from scheduler.model import IntensityTrace
from scheduler.reports.html import ReportInput, render_report, series_from_trace
from scheduler.reports.svg import nice_max, pack_lanes
from tests.scheduler.ledger_factories import HOUR, T0, entry


def _page(**changes: object) -> str:
    entries = [
        entry(job_id="a", model_version="v1", deferral_h=3),
        entry(job_id="b", model_version="v2", team="cv", deferral_h=0, energy_kwh=2),
    ]
    data = ReportInput(
        entries=entries, generated_at=T0, head="f" * 64, verification="ok", verified=True
    )
    return render_report(data.__class__(**{**data.__dict__, **changes}))


def test_balance_sheet_bars_carry_the_ledger_numbers() -> None:
    """v1 deferred 3 h emits 0.1 kg against 0.4 kg; v2 run at once emits 0.8 kg both ways."""
    page = _page()
    pattern = r'data-series="([^"]+)" data-category="(v\d)" data-value="([^"]+)"'
    bars = {(s, c): float(v) for s, c, v in re.findall(pattern, page)}
    assert bars[("emissions kg", "v1")] == pytest.approx(0.1)
    assert bars[("counterfactual kg", "v1")] == pytest.approx(0.4)
    assert bars[("emissions kg", "v2")] == pytest.approx(0.8)
    assert 'data-key="total"' in page


def test_given_zone_series_is_drawn_with_the_job_runs() -> None:
    """A zone series passed in is drawn as the zone's line, with one span per job run."""
    series = [(T0, 400.0), (T0 + HOUR, 123.0), (T0 + 8 * HOUR, 123.0)]
    page = _page(intensity={"DE": series})
    assert 'data-series="DE g/kWh" data-last="123"' in page
    assert page.count('class="span"') == 2


def test_series_from_trace_is_clipped_to_the_window() -> None:
    """Only the steps overlapping the window are kept, starting at the window's start."""
    start_s = int(T0.timestamp())
    trace = IntensityTrace(
        zone="DE",
        start_s=np.arange(start_s, start_s + 4 * 3600, 3600, dtype=np.int64),
        g_per_kwh=np.array([1.0, 2.0, 3.0, 4.0]),
        end_s=start_s + 4 * 3600,
    )
    points = series_from_trace(trace, T0 + HOUR / 2, T0 + 2 * HOUR + timedelta(minutes=1))
    assert points == [
        (T0 + HOUR / 2, 1.0),
        (T0 + HOUR, 2.0),
        (T0 + 2 * HOUR, 3.0),
        (T0 + 2 * HOUR + timedelta(minutes=1), 3.0),
    ]


@given(st.floats(min_value=1e-6, max_value=1e9))
def test_nice_max_is_a_round_bound_not_far_above(value: float) -> None:
    """The axis maximum is at least the value and at most 2.5 times it."""
    assert value <= nice_max(value) <= 2.5 * value + 1e-9


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 50)), max_size=30))
def test_packed_lanes_never_overlap(spans: list[tuple[int, int]]) -> None:
    """Intervals sharing a lane never overlap."""
    intervals = sorted((T0 + timedelta(hours=s), T0 + timedelta(hours=s + n)) for s, n in spans)
    lanes = pack_lanes(intervals)
    for lane in set(lanes):
        mine = [iv for iv, ln in zip(intervals, lanes, strict=True) if ln == lane]
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(mine))


def test_report_draws_realised_history_of_each_zone(tmp_path: Path) -> None:
    """With a history source, each zone's line is its realised series over the runs' span."""
    ledger = MemoryLedger()
    ledger.append(entry(job_id="a", deferral_h=1))
    clock = FakeClock(T0 + 24 * HOUR)
    target = tmp_path / "r.html"
    write_report(ledger, target, history=StaticProvider({"DE": 321.0}, clock=clock))
    page = target.read_text(encoding="utf-8")
    assert 'data-series="DE g/kWh" data-last="321"' in page
    assert "ledger verified: 1 entries" in page
