"""Carbon trace files: both CSV formats, merging, and clear errors for bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from forecasts.trace_replay import TraceReplayProvider
from forecasts.traces import load_carbon_traces, read_carbon_csv, trace_from_series
from scheduler.clock import FakeClock
from scheduler.errors import ForecastError, ScenarioError
from scheduler.protocols import ForecastProvider, IntensityHistory
from scheduler.settings import PluginConfig, Settings
from scheduler.wiring import WiringContext, default_registries

EM_HEADER = (
    "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
    "Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,"
    "Data Source,Data Estimated,Data Estimation Method\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def em_file(tmp_path: Path) -> Path:
    rows = [
        "2023-01-01 00:00:00,Germany,Germany,DE,140.5,185.8,83,78,entsoe.eu,false,\n",
        "2023-01-01 01:00:00,Germany,Germany,DE,150.0,200.0,83,78,entsoe.eu,false,\n",
    ]
    return write(tmp_path, "de.csv", EM_HEADER + "".join(rows))


def test_long_format_is_a_step_function_per_zone(tmp_path: Path) -> None:
    """Long-format rows become one trace per zone; the last value holds for the last step."""
    path = write(
        tmp_path,
        "long.csv",
        "datetime,zone,g_per_kwh\n"
        "2020-01-01T00:00:00+00:00,DE,300\n"
        "2020-01-01T00:30:00+00:00,DE,200.5\n"
        "2020-01-01T00:00:00+01:00,FR,50\n",
    )
    traces = read_carbon_csv(path)
    assert sorted(traces) == ["DE", "FR"]
    de = traces["DE"]
    assert de.start == datetime(2020, 1, 1, tzinfo=UTC)
    assert de.end == datetime(2020, 1, 1, 1, 0, tzinfo=UTC)
    assert list(de.g_per_kwh) == [300.0, 200.5]
    assert traces["FR"].start == datetime(2019, 12, 31, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("signal", "expected"), [("lca", [185.8, 200.0]), ("direct", [140.5, 150.0])]
)
def test_electricity_maps_export_reads_the_chosen_signal(
    tmp_path: Path, signal: str, expected: list[float]
) -> None:
    """The EM export's naive timestamps are UTC (the column says so); --signal picks the column."""
    traces = load_carbon_traces([em_file(tmp_path)], signal=signal)  # type: ignore[arg-type]
    assert list(traces["DE"].g_per_kwh) == expected
    assert traces["DE"].start == datetime(2023, 1, 1, tzinfo=UTC)
    assert traces["DE"].end == datetime(2023, 1, 1, 2, tzinfo=UTC)


def test_zones_merge_across_files(tmp_path: Path) -> None:
    """Two files of the same zone (two periods) form one trace; other zones are kept."""
    first = write(tmp_path, "a.csv", "datetime,zone,g_per_kwh\n2020-01-01T00:00:00Z,DE,1\n")
    second = write(
        tmp_path,
        "b.csv",
        "datetime,zone,g_per_kwh\n2020-01-01T01:00:00Z,DE,2\n2020-01-01T00:00:00Z,GB,3\n",
    )
    traces = load_carbon_traces([second, first])
    assert list(traces["DE"].g_per_kwh) == [1.0, 2.0]
    assert list(traces["GB"].g_per_kwh) == [3.0]


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("datetime,zone,g_per_kwh\n2020-01-01T00:00:00,DE,1\n", ["bad.csv:2", "no UTC offset"]),
        ("datetime,zone,g_per_kwh\n2020-01-01T00:00:00Z,DE,abc\n", ["bad.csv:2", "'abc'"]),
        ("datetime,zone,g_per_kwh\n2020-01-01T00:00:00Z,DE,-3\n", ["bad.csv:2", "≥ 0"]),
        ("datetime,zone,g_per_kwh\nyesterday,DE,1\n", ["bad.csv:2", "'yesterday'", "ISO 8601"]),
        ("datetime,zone,g_per_kwh\n2020-01-01T00:00:00Z,,1\n", ["bad.csv:2", "zone id"]),
        ("time,zone,value\n2020-01-01T00:00:00Z,DE,1\n", ["unknown carbon CSV header"]),
        ("datetime,zone,g_per_kwh\n", ["no data rows"]),
        (
            "datetime,zone,g_per_kwh\n2020-01-01T00:00:00Z,DE,1\n2020-01-01T00:00:00Z,DE,2\n",
            ["bad.csv:3", "second value", "bad.csv:2"],
        ),
    ],
)
def test_bad_files_name_file_line_and_fix(tmp_path: Path, text: str, fragments: list[str]) -> None:
    """Every malformed file raises ScenarioError naming where and what is wrong."""
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(ScenarioError) as caught:
        read_carbon_csv(path)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_missing_file_and_missing_signal_column(tmp_path: Path) -> None:
    """A missing file and an export without the chosen signal's column are clear errors."""
    with pytest.raises(ScenarioError, match="cannot read"):
        read_carbon_csv(tmp_path / "nope.csv")
    header = EM_HEADER.replace(",Carbon Intensity gCO₂eq/kWh (direct)", "")
    path = write(tmp_path, "em.csv", header + "2023-01-01 00:00:00,G,G,DE,1,1,1,x,false,\n")
    with pytest.raises(ScenarioError, match="direct"):
        read_carbon_csv(path, signal="direct")


@pytest.mark.shared
def test_real_electricity_maps_year_loads(shared_dir: Path) -> None:
    """A real Electricity Maps export: 8,760 hourly LCA values of zone DE for 2023."""
    path = shared_dir / "data/green-dcc/carbon_intensity/DE-LU/2023/DE-LU_2023_hourly.csv"
    trace = read_carbon_csv(path)["DE"]
    assert len(trace.g_per_kwh) == 8760
    assert np.all(np.diff(trace.start_s) == 3600)
    assert trace.g_per_kwh[0] == 185.8


def test_trace_replay_forecasts_to_the_horizon_and_history_to_now() -> None:
    """Replay: forecasts stop at now + horizon, history at the last step ended by now."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    times = [start + timedelta(hours=h) for h in range(48)]
    trace = trace_from_series("DE", times, [float(h) for h in range(48)])
    clock = FakeClock(start + timedelta(hours=10, minutes=30))
    provider = TraceReplayProvider({"DE": trace}, clock=clock, horizon_h=6)
    assert isinstance(provider, ForecastProvider)
    assert isinstance(provider, IntensityHistory)
    forecast = provider.forecast("DE", start + timedelta(hours=10), start + timedelta(days=3))
    assert [p.g_per_kwh for p in forecast.points] == [10.0, 11, 12, 13, 14, 15, 16]
    assert forecast.provenance.provider == "trace"
    observed = provider.observed("DE", start, start + timedelta(days=3))
    assert [p.g_per_kwh for p in observed.points] == [float(h) for h in range(10)]
    with pytest.raises(ForecastError, match="GB"):
        provider.forecast("GB", start, start + timedelta(hours=1))


def test_wiring_builds_the_trace_provider(tmp_path: Path) -> None:
    """Settings kind ``trace`` replays the named files through the registry."""
    path = write(tmp_path, "c.csv", "datetime,zone,g_per_kwh\n2024-01-01T00:00:00Z,DE,42\n")
    now = datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
    context = WiringContext(settings=Settings(), clock=FakeClock(now))
    config = PluginConfig(kind="trace", files=[str(path)], horizon_h=1)
    provider = default_registries().forecast_providers.build(
        config, context, "forecasts.zones.DE.0"
    )
    assert [p.g_per_kwh for p in provider.forecast("DE", now, now + timedelta(hours=3)).points] == [
        42.0
    ]
