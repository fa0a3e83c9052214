"""``carbonshift simulate``: FORMATS.md outputs exactly, and one-line errors with exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scheduler.cli import simulate as simulate_cli
from scheduler.cli.main import app
from scheduler.planning.problem import Policy
from scheduler.simulation.output import RESULT_KEYS
from tests.scheduler.simulation.helpers import JOBS_HEADER, job_row, write_carbon, write_regions
from tests.scheduler.simulation.policies import CheapestPolicy, EarliestPolicy

HOURLY = [100.0, 200.0, 300.0, 400.0, 50.0, 90.0, 60.0, 500.0] + [700.0] * 16


@pytest.fixture(autouse=True)
def test_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI resolves test policies by name (the real ones are tested with the planner)."""
    policies: dict[str, Policy] = {"cheapest": CheapestPolicy(), "oracle": CheapestPolicy()}
    policies["earliest"] = EarliestPolicy()
    monkeypatch.setattr(simulate_cli, "resolve_policy", policies.__getitem__)


def files(tmp_path: Path) -> list[str]:
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        JOBS_HEADER
        + job_row("a", "00:30", 5400, "12:00", gpus=2)
        + job_row("b", "00:00", 7200, "12:00", interruptible=True, home="GB", allowed="GB;DE"),
        encoding="utf-8",
    )
    de = write_carbon(tmp_path / "de.csv", {"DE": HOURLY})
    gb = write_carbon(tmp_path / "gb.csv", {"GB": [300.0] * 24})
    regions = write_regions(tmp_path / "r.yaml", [("de-1", "DE", 4, 1.0), ("gb-1", "GB", 4, 1.0)])
    return ["--jobs", str(jobs), "--carbon", str(de), str(gb), "--regions", str(regions)]


def test_simulate_writes_formats_exactly(tmp_path: Path) -> None:
    """Result JSON has exactly FORMATS.md's keys; the schedule CSV its columns and UTC times."""
    out, schedule, plot = tmp_path / "r.json", tmp_path / "s.csv", tmp_path / "p.png"
    args = [
        "simulate",
        *files(tmp_path),
        "--policy",
        "cheapest",
        "--oracle",
        "--out",
        str(out),
        "--schedule-out",
        str(schedule),
        "--plot",
        str(plot),
    ]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 0, outcome.output
    result = json.loads(out.read_text())
    assert tuple(result) == RESULT_KEYS
    assert result["policy"] == "test-cheapest"
    assert (result["jobs"], result["completed"], result["missed_deadlines"]) == (2, 2, 0)
    assert result["oracle_efficiency"] == pytest.approx(1.0)
    assert set(result["plan_time_s"]) == {"p50", "p95", "max"}
    with schedule.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["job_id", "region", "zone", "start", "end", "gpus", "power_cap_w"]
    assert rows[1:] == [
        ["a", "de-1", "DE", "2024-01-01T04:00:00+00:00", "2024-01-01T05:30:00+00:00", "2", ""],
        ["b", "de-1", "DE", "2024-01-01T04:00:00+00:00", "2024-01-01T05:00:00+00:00", "1", ""],
        ["b", "de-1", "DE", "2024-01-01T06:00:00+00:00", "2024-01-01T07:00:00+00:00", "1", ""],
    ]
    assert plot.stat().st_size > 1000


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (["--forecast", "gauss"], "--forecast 'gauss' is not understood"),
        (["--signal", "marginal"], "unknown signal 'marginal'"),
        (["--carbon", "missing.csv"], "missing.csv"),
        (["--arrival-forecast", "-1"], "--arrival-forecast"),
        (["--arrival-reserve", "-0.5"], "--arrival-reserve"),
        (["--arrival-insurance", "-1"], "--arrival-insurance"),
        (["--arrival-reserve", "0", "--arrival-insurance", "1.5"], "needs arrival_reserve"),
        (["--announce-h", "-2"], "--announce-h"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, change: list[str], fragment: str) -> None:
    """Bad options or files: exit status 2 and a one-line error naming the problem."""
    args = [
        "simulate",
        *files(tmp_path),
        "--policy",
        "earliest",
        "--out",
        str(tmp_path / "r.json"),
        "--schedule-out",
        str(tmp_path / "s.csv"),
        *change,
    ]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 2, outcome.output
    assert fragment in outcome.output
    assert "Traceback" not in outcome.output


def test_unknown_policy_lists_the_valid_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown --policy exits 2 naming the planner's policies."""
    monkeypatch.undo()
    args = [
        "simulate",
        *files(tmp_path),
        "--policy",
        "greenest",
        "--out",
        "r",
        "--schedule-out",
        "s",
    ]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 2
    assert "greenest" in outcome.output
    assert "run-now" in outcome.output


def test_naive_timestamp_in_jobs_is_a_usage_error(tmp_path: Path) -> None:
    """A jobs row without a UTC offset exits 2 naming the file and line."""
    args = files(tmp_path)
    (tmp_path / "jobs.csv").write_text(
        JOBS_HEADER + "a,2024-01-01T00:00:00,60,2024-01-01T05:00:00+00:00,1,DE,,false,300\n",
        encoding="utf-8",
    )
    outcome = CliRunner().invoke(
        app,
        ["simulate", *args, "--out", str(tmp_path / "r"), "--schedule-out", str(tmp_path / "s")],
    )
    assert outcome.exit_code == 2
    assert "jobs.csv:2" in outcome.output


def test_arrival_forecasts_reach_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--arrival-forecast`` / ``--arrival-reserve`` / ``--arrival-insurance`` reach the
    engine; without them the ``planner`` settings do (no arrival forecast, the 1.5 reserve
    and no insurance by default). So does the ``--announce-h`` what-if (0 by default)."""
    seen: list[tuple[float, float, float, float]] = []
    real = simulate_cli.simulate

    def spy(*args: object, **kwargs: object) -> object:
        options = kwargs["options"]
        seen.append(
            (
                options.arrival_forecast,  # type: ignore[attr-defined]
                options.arrival_reserve,  # type: ignore[attr-defined]
                options.arrival_insurance,  # type: ignore[attr-defined]
                options.announce_h,  # type: ignore[attr-defined]
            )
        )
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(simulate_cli, "simulate", spy)
    base = [*files(tmp_path), "--policy", "earliest", "--out", str(tmp_path / "r")]
    settings = tmp_path / "carbonshift.yaml"
    settings.write_text(
        "planner: {arrival_forecast: 0.5, arrival_reserve: 1.25, arrival_insurance: 1.5}\n"
    )
    configured = ["--config", str(settings)]
    for first, extra in (
        ([], []),
        ([], ["--arrival-forecast", "1.5", "--arrival-reserve", "2", "--announce-h", "24"]),
        ([], ["--arrival-insurance", "2"]),
        (configured, []),
        (configured, ["--arrival-reserve", "0", "--arrival-insurance", "0"]),
    ):
        outcome = CliRunner().invoke(
            app, [*first, "simulate", *base, "--schedule-out", str(tmp_path / "s"), *extra]
        )
        assert outcome.exit_code == 0, outcome.output
    assert seen == [
        (0.0, 1.5, 0.0, 0.0),
        (1.5, 2.0, 0.0, 24.0),
        (0.0, 1.5, 2.0, 0.0),
        (0.5, 1.25, 1.5, 0.0),
        (0.5, 0.0, 0.0, 0.0),
    ]


def test_missed_jobs_are_listed_with_when_they_were_lost(tmp_path: Path) -> None:
    """Two 3-hour jobs due at 03:00 on one GPU: the summary names the one that missed, how
    much of it ran, and when the plans left it out and its deadline was lost."""
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        JOBS_HEADER
        + job_row("first", "00:00", 3 * 3600, "03:00")
        + job_row("second", "00:00", 3 * 3600, "03:00"),
        encoding="utf-8",
    )
    carbon = write_carbon(tmp_path / "de.csv", {"DE": HOURLY})
    regions = write_regions(tmp_path / "r.yaml", [("de-1", "DE", 1, 1.0)])
    args = ["simulate", "--jobs", str(jobs), "--carbon", str(carbon), "--regions", str(regions)]
    args += ["--policy", "earliest", "--out", str(tmp_path / "r"), "--schedule-out"]
    outcome = CliRunner().invoke(app, [*args, str(tmp_path / "s")])
    assert outcome.exit_code == 0, outcome.output
    listed = outcome.output.split("missed deadlines (1):")[1]
    assert "second: due 2024-01-01 03:00, ran 0.0 of 3.0 h" in listed
    # left out by the first plan, and lost one (hourly) slot later: 3 h no longer fit
    assert "left out from 2024-01-01 00:00, lost at 2024-01-01 01:00" in listed
    assert "first" not in listed
