"""``carbonshift config`` and ``carbonshift version`` through the real CLI."""

from __future__ import annotations

import json
import os
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scheduler.cli.main import app


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI runner in an empty directory with no CARBONSHIFT_* variables."""
    for name in list(os.environ):
        if name.startswith("CARBONSHIFT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_version_prints_the_installed_version(runner: CliRunner) -> None:
    """`carbonshift version` prints the distribution's version."""
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"carbonshift {version('carbonshift')}"


def test_help_lists_the_commands(runner: CliRunner) -> None:
    """`carbonshift --help` shows the config command."""
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "config" in result.stdout


def test_validate_unknown_key_exits_2_naming_it(runner: CliRunner, tmp_path: Path) -> None:
    """A file with an unknown key exits 2 and names the key."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("planner:\n  slot_minutes: 15\n  colour: green\n", encoding="utf-8")
    result = runner.invoke(app, ["config", "validate", str(bad)])
    assert result.exit_code == 2
    assert "unknown key 'colour'" in result.stderr


def test_validate_lists_every_plugin_problem(runner: CliRunner, tmp_path: Path) -> None:
    """Plugin-level problems are all listed, each with its location."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "forecasts:\n  default:\n    - {kind: static, g_per_kwh: {DE: 1}, extra: 1}\n"
        "    - {kind: nope}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["config", "validate", str(bad)])
    assert result.exit_code == 2
    assert "forecasts.default.0.extra: unknown key 'extra'" in result.stderr
    assert "forecasts.default.1.kind: unknown forecast provider kind 'nope'" in result.stderr


def test_validate_missing_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    """A file that does not exist is a usage error."""
    result = runner.invoke(app, ["config", "validate", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_show_applies_data_dir_and_environment(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`config show --json` reflects --data-dir and CARBONSHIFT_* overrides."""
    monkeypatch.setenv("CARBONSHIFT_PLANNER__HORIZON_H", "72")
    result = runner.invoke(app, ["--data-dir", str(tmp_path / "d"), "config", "show", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["data_dir"] == str(tmp_path / "d")
    assert data["planner"]["horizon_h"] == 72


def test_show_masks_secrets_from_file_and_environment(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API keys never appear in `config show`, whether set in the file or the environment."""
    settings = tmp_path / "carbonshift.yaml"
    settings.write_text(
        "forecasts:\n  zones:\n    DE:\n      - {kind: electricitymaps, api_key: em-secret-123}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CARBONSHIFT_STORE__KIND", "postgresql")
    monkeypatch.setenv("CARBONSHIFT_STORE__URL", "postgresql://u:pg-secret-456@db/carbon")
    for extra in ([], ["--json"]):
        result = runner.invoke(app, ["--config", str(settings), "config", "show", *extra])
        assert result.exit_code == 0, result.stderr
        assert "em-secret-123" not in result.stdout
        assert "pg-secret-456" not in result.stdout
        assert "**********" in result.stdout
