"""The demo's ledger step: outcomes recorded, `ledger verify` passing, a report written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scheduler.cli import demo as demo_cli
from scheduler.cli.main import app
from scheduler.planning.problem import Policy
from tests.scheduler.simulation.policies import EarliestPolicy, GreedyPolicy


@pytest.fixture
def demo_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The output of a 10-job demo with stand-in policies."""
    policies: dict[str, Policy] = {
        "carbonshift": GreedyPolicy(),
        "run-now": EarliestPolicy(),
        "oracle": GreedyPolicy(),
    }
    monkeypatch.setattr(demo_cli, "resolve_policy", policies.__getitem__)
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path), "demo", "--jobs", "10", "--no-ray"]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_ends_with_a_verified_ledger_and_report(demo_output: str, tmp_path: Path) -> None:
    """The demo prints a passing verification; the demo ledger verifies again from the CLI,
    sums all ten jobs, the report exists, and a second run with the same seed adds nothing."""
    assert "`ledger verify` passed: 10 entries" in " ".join(demo_output.split())
    demo_dir = tmp_path / "demo"
    runner = CliRunner()
    verify = runner.invoke(app, ["--data-dir", str(demo_dir), "ledger", "verify"])
    assert verify.exit_code == 0
    assert verify.stdout.startswith("ledger verified: 10 entries")
    savings = runner.invoke(app, ["--data-dir", str(demo_dir), "savings", "--by", "team", "--json"])
    report = json.loads(savings.stdout)
    assert report["total"]["jobs"] == 10
    assert report["total"]["counterfactual_kg"] > 0
    page = (demo_dir / "ledger.html").read_text(encoding="utf-8")
    assert "ledger verified: 10 entries" in page
    assert page.count('class="span"') == 10  # one bar per job run over its zone's intensity
    again = runner.invoke(app, ["--data-dir", str(tmp_path), "demo", "--jobs", "10", "--no-ray"])
    assert "ledger: 0 entries appended" in again.output  # same seed: nothing new


def test_ledger_savings_match_the_simulators_own_accounting(
    demo_output: str, tmp_path: Path
) -> None:
    """The ledger's saving against run-at-submission-at-home (priced by the ledger's
    accounting) equals the percentage the simulator printed from its own accounting."""
    line = next(x for x in demo_output.splitlines() if "saved vs run at submission" in x)
    printed_pct = float(re.findall(r"(-?[\d.]+) %", line)[-1])
    savings = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "demo"), "savings", "--by", "month", "--json"]
    )
    assert json.loads(savings.stdout)["total"]["saved_pct"] == pytest.approx(printed_pct, abs=0.06)
