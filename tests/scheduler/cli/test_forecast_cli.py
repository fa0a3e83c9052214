"""``carbonshift forecast show`` and ``providers`` through the real CLI (SQLite cache)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scheduler.cli.forecast import sparkline
from scheduler.cli.main import app

CONFIG = """
store: {kind: sqlite}
forecasts:
  default:
    - {kind: static, g_per_kwh: {XX: 1}}
    - {kind: static, g_per_kwh: {DE: 312.5}}
"""


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI runner in an empty directory with a config of two static providers."""
    for name in list(os.environ):
        if name.startswith("CARBONSHIFT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "carbonshift.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("CARBONSHIFT_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def test_show_json_gives_the_chain_forecast_with_provenance(runner: CliRunner) -> None:
    """The first provider lacks DE, so the second answers: 48 hourly points, fallback."""
    result = runner.invoke(app, ["forecast", "show", "DE", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    forecast = data["forecast"]
    assert forecast["zone"] == "DE"
    assert {p["g_per_kwh"] for p in forecast["points"]} == {312.5}
    assert 48 <= len(forecast["points"]) <= 49
    assert forecast["provenance"]["fallback"] is True
    assert "no value for zone 'DE'" in data["problems"][0]


def test_show_prints_table_plot_and_provenance(runner: CliRunner) -> None:
    """The human view names the provider, draws the plot line and lists the notes."""
    result = runner.invoke(app, ["forecast", "show", "DE", "--hours", "3"])
    assert result.exit_code == 0, result.output
    assert "DE from static (average)" in result.stdout
    assert "312 ▁" in result.stdout
    assert "constant series" in result.stdout


def test_zone_without_signal_exits_1_saying_deadline_safe(runner: CliRunner) -> None:
    """No provider knows the zone: exit 1, the message says jobs run deadline-safe."""
    result = runner.invoke(app, ["forecast", "show", "FR"])
    assert result.exit_code == 1
    assert "no usable carbon signal" in result.stderr
    assert "deadline-safe" in result.stderr


def test_providers_json_reports_what_the_chain_recorded(runner: CliRunner) -> None:
    """After one show, the database holds each provider's last success or error."""
    runner.invoke(app, ["forecast", "show", "DE", "--json"])
    result = runner.invoke(app, ["forecast", "providers", "--json"])
    assert result.exit_code == 0, result.output
    (status,) = json.loads(result.stdout)  # both providers are named "static"
    assert status["provider"] == "static"
    assert status["last_success_at"] is not None
    assert status["age_s"] >= 0


def test_sparkline_scales_between_min_and_max() -> None:
    """Lowest value → lowest bar, highest → full bar; long series are averaged to the width."""
    assert sparkline([0.0, 50.0, 100.0]) == "▁▅█"
    assert len(sparkline([float(i) for i in range(1000)], width=50)) == 50
    assert sparkline([]) == ""
