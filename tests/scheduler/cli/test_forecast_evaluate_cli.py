"""``carbonshift forecast evaluate``: the JSON contract, the table, and usage errors."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from scheduler.cli.main import app

DAYS = 62
JSON_KEYS = {"zone", "horizon_h", "mape_model", "mape_persistence", "mape_previous_day"}


def write_long(path: Path, zones: dict[str, np.ndarray]) -> Path:
    """Long-format carbon CSV, hourly from 2024-01-01 00:00 UTC."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    lines = ["datetime,zone,g_per_kwh\n"]
    for zone, values in zones.items():
        for i, value in enumerate(values):
            lines.append(f"{(start + timedelta(hours=i)).isoformat()},{zone},{value:.2f}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def series(seed: int, *, zeros: bool = False) -> np.ndarray:
    """A daily cycle with noise; with ``zeros``, every 13th hour at 0 g/kWh."""
    rng = np.random.default_rng(seed)
    hours = np.arange(DAYS * 24)
    values = 200.0 + 60.0 * np.sin(2 * math.pi * hours / 24) + rng.normal(0, 15, len(hours))
    if zeros:
        values[::13] = 0.0
    return np.maximum(values, 0.0)


@pytest.fixture
def carbon(tmp_path: Path) -> Path:
    """Two zones, one of them with hours at zero intensity."""
    return write_long(tmp_path / "carbon.csv", {"DE": series(1), "CA-ON": series(2, zeros=True)})


def test_json_is_one_array_of_zone_horizon_scores(carbon: Path) -> None:
    """--json prints one array with one object per zone and horizon, exactly five keys, MAPEs
    as finite positive percentages (zero-intensity hours do not break them)."""
    result = CliRunner().invoke(
        app, ["forecast", "evaluate", "--carbon", str(carbon), "--horizons", "24,1", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(row["zone"], row["horizon_h"]) for row in rows] == [
        ("CA-ON", 1),
        ("CA-ON", 24),
        ("DE", 1),
        ("DE", 24),
    ]
    for row in rows:
        assert set(row) == JSON_KEYS
        for key in ("mape_model", "mape_persistence", "mape_previous_day"):
            assert math.isfinite(row[key])
            assert row[key] > 0.0


def test_table_output_names_the_zero_hours_left_out(carbon: Path) -> None:
    """Without --json a table is printed, noting the zero-intensity targets left out."""
    result = CliRunner().invoke(
        app, ["forecast", "evaluate", "--carbon", str(carbon), "--horizons", "6"]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"CA-ON 6 h: [1-9]\d* targets below 1.0 g/kWh left out", result.stdout)
    assert "DE 6 h:" not in result.stdout
    assert "mean ratio over zones and horizons" in result.stdout


def test_evaluate_from_after_the_data_is_a_usage_error(carbon: Path) -> None:
    """An --evaluate-from after the data ends exits 2 and says to choose an earlier date."""
    result = CliRunner().invoke(
        app,
        ["forecast", "evaluate", "--carbon", str(carbon), "--evaluate-from", "2030-01-01"],
    )
    assert result.exit_code == 2
    assert "choose an earlier --evaluate-from" in result.stderr


def test_too_little_history_is_a_usage_error(tmp_path: Path) -> None:
    """A file shorter than the forecaster's minimum history exits 2 and says why."""
    short = write_long(tmp_path / "short.csv", {"GB": series(3)[: 24 * 10]})
    result = CliRunner().invoke(app, ["forecast", "evaluate", "--carbon", str(short)])
    assert result.exit_code == 2
    assert "issued no forecast" in result.stderr


def test_bad_horizons_are_a_usage_error(carbon: Path) -> None:
    """Horizons must be whole hours ≥ 1."""
    result = CliRunner().invoke(
        app, ["forecast", "evaluate", "--carbon", str(carbon), "--horizons", "0,x"]
    )
    assert result.exit_code == 2
    assert "--horizons" in result.stderr
