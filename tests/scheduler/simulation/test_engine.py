"""The replay engine: what a policy may see, rolling re-plans, and loud failures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from forecasts.traces import read_carbon_csv
from scheduler.errors import ConfigError, ForecastUnavailable, ScheduleViolationError
from scheduler.model import IntensityTrace
from scheduler.planning.problem import Plan, PlanProblem, Segment
from scheduler.simulation.engine import DecisionPoint, EngineOptions
from scheduler.simulation.forecast_errors import parse_forecast
from scheduler.simulation.runner import simulate
from scheduler.simulation.scenario import Scenario
from tests.scheduler.simulation.helpers import job_row, scenario, write_carbon
from tests.scheduler.simulation.policies import CheapestPolicy, EarliestPolicy, OverbookingPolicy

DAY = [float(100 + 10 * ((h * 7) % 24)) for h in range(48)]


def traces_for(tmp_path: Path, zones: Sequence[str] = ("DE",)) -> dict[str, IntensityTrace]:
    return read_carbon_csv(write_carbon(tmp_path / "c.csv", dict.fromkeys(zones, DAY)))


def test_jobs_are_revealed_at_submission(tmp_path: Path) -> None:
    """The policy never sees a job before its submit_time; every problem starts at 'now'."""
    loaded = scenario(
        tmp_path,
        [job_row("early", "01:00", 3600, "20:00"), job_row("late", "05:00", 3600, "20:00")],
    )
    points: list[DecisionPoint] = []
    simulate(loaded, traces_for(tmp_path), EarliestPolicy(), observer=points.append)
    seen = [(p.time.hour, sorted(j.id for j in p.problem.jobs)) for p in points]
    assert seen[0] == (1, ["early"])
    assert all("late" not in ids for hour, ids in seen if hour < 5)
    assert all(p.problem.start == p.time for p in points)


def test_announced_jobs_are_seen_early_and_start_no_earlier(tmp_path: Path) -> None:
    """With ``announce_h`` the policy sees a job that many hours before its submit_time, as a
    job it may not start yet; the replay still starts it at its submission at the earliest."""
    loaded = scenario(
        tmp_path,
        [job_row("early", "01:00", 3600, "20:00"), job_row("late", "05:00", 3600, "20:00")],
    )
    points: list[DecisionPoint] = []
    result = simulate(
        loaded,
        traces_for(tmp_path),
        EarliestPolicy(),
        options=EngineOptions(announce_h=3.0),
        observer=points.append,
    )
    seen = [(p.time.hour, {j.id: j.release_slot for j in p.problem.jobs}) for p in points]
    # the grid starts at 01:00, the first submission; "late" is known from 02:00 on
    assert seen[0] == (1, {"early": 0})
    assert (2, {"late": 3}) in seen
    assert all("late" not in told for hour, told in seen if hour < 2)
    late = next(o for o in result.run.outcomes if o.job.id == "late")
    assert (late.completed, late.segments[0].start) == (True, 4)  # 05:00 on a grid from 01:00


def test_a_negative_notice_is_refused() -> None:
    """``announce_h`` below 0 is an error that names the value and the default."""
    with pytest.raises(ConfigError, match=r"announce_h -1\.0 .*at least 0"):
        EngineOptions(announce_h=-1.0)


def test_bad_arrival_insurance_is_refused_with_the_fix() -> None:
    """A negative insurance, or one without the arrival reserve, names the value and the fix."""
    with pytest.raises(ConfigError, match=r"arrival_insurance -1 must be at least 0"):
        EngineOptions(arrival_insurance=-1.0)
    with pytest.raises(ConfigError, match=r"arrival_insurance 1\.5 needs arrival_reserve"):
        EngineOptions(arrival_insurance=1.5, arrival_reserve=0.0)


def test_started_non_interruptible_jobs_are_fixed_and_hold_capacity(tmp_path: Path) -> None:
    """Once a rigid job starts it leaves the problem, and its GPUs are no longer free."""
    loaded = scenario(
        tmp_path,
        [job_row("a", "00:00", 4 * 3600, "20:00", gpus=3), job_row("b", "02:00", 3600, "20:00")],
        regions=(("de-1", "DE", 4, 1.0),),
    )
    points: list[DecisionPoint] = []
    simulate(loaded, traces_for(tmp_path), EarliestPolicy(), observer=points.append)
    at_two = next(p for p in points if p.time.hour == 2)
    assert [j.id for j in at_two.problem.jobs] == ["b"]
    assert list(at_two.problem.capacity[0, :3]) == [1, 1, 4]


def test_interruptible_jobs_stay_replannable_in_their_region(tmp_path: Path) -> None:
    """A started interruptible job is re-planned later, locked to the region it ran in."""
    loaded = scenario(
        tmp_path,
        [
            job_row("i", "00:00", 4 * 3600, "20:00", interruptible=True, allowed="DE;GB"),
            job_row("j", "02:00", 3600, "20:00"),
        ],
        regions=(("de-1", "DE", 4, 1.0), ("gb-1", "GB", 4, 1.0)),
    )
    points: list[DecisionPoint] = []
    simulate(loaded, traces_for(tmp_path, ("DE", "GB")), EarliestPolicy(), observer=points.append)
    at_two = next(p for p in points if p.time.hour == 2)
    job = next(j for j in at_two.problem.jobs if j.id == "i")
    assert job.regions == (0,)
    assert job.duration_slots == 2


def test_overcommitting_policy_fails_loudly(tmp_path: Path) -> None:
    """A policy that puts 12 GPUs into a 10-GPU region makes the simulator raise."""
    rows = [job_row(f"j{i}", "00:00", 3600, "10:00", gpus=4) for i in range(3)]
    loaded = scenario(tmp_path, rows)
    with pytest.raises(ScheduleViolationError, match="12 GPUs in use at once, capacity 10"):
        simulate(loaded, traces_for(tmp_path), OverbookingPolicy())


class LatePolicy:
    """Deliberately bad: places every job after its deadline."""

    name = "test-late"

    def plan(self, problem: PlanProblem) -> Plan:
        """Every job right at its deadline slot."""
        return Plan(
            placements={
                job.id: (
                    Segment(
                        region=job.regions[0],
                        start=job.deadline_slot,
                        end=job.deadline_slot + job.duration_slots,
                    ),
                )
                for job in problem.jobs
            }
        )


def test_deadline_breaking_policy_fails_loudly(tmp_path: Path) -> None:
    """A placement past the deadline raises, naming the policy and the job."""
    loaded = scenario(tmp_path, [job_row("a", "00:00", 3600, "05:00")])
    with pytest.raises(ScheduleViolationError, match=r"'test-late'.*job a.*outside its window"):
        simulate(loaded, traces_for(tmp_path), LatePolicy())


def test_jobs_a_policy_cannot_place_are_missed(tmp_path: Path) -> None:
    """With 1 GPU and two jobs that each need the whole window, one job is missed."""
    rows = [job_row("a", "00:00", 3 * 3600, "03:00"), job_row("b", "00:00", 3 * 3600, "03:00")]
    loaded = scenario(tmp_path, rows, regions=(("de-1", "DE", 1, 1.0),))
    replay = simulate(loaded, traces_for(tmp_path), EarliestPolicy())
    assert (replay.result["completed"], replay.result["missed_deadlines"]) == (1, 1)
    # the outcome says when the plans gave up on the missed job and when it was lost: the
    # slot after its last feasible start (00:00, as it needs the whole window)
    done, missed = sorted(replay.run.outcomes, key=lambda o: not o.completed)
    assert (done.left_out_at, done.lost_at) == (None, None)
    grid = replay.run.grid
    assert missed.left_out_at is not None
    assert missed.lost_at is not None
    assert grid.time(missed.left_out_at).hour == 0
    assert missed.lost_at == missed.left_out_at + 1


def forecasts_seen(
    tmp_path: Path, loaded: Scenario, spec: str, **options: object
) -> list[np.ndarray]:
    points: list[DecisionPoint] = []
    engine_options = EngineOptions(forecast=parse_forecast(spec), **options)  # type: ignore[arg-type]
    simulate(
        loaded,
        traces_for(tmp_path),
        CheapestPolicy(),
        options=engine_options,
        observer=points.append,
    )
    return [p.problem.intensity[0].copy() for p in points]


def test_gaussian_forecast_error_is_seeded_and_sized(tmp_path: Path) -> None:
    """gauss:E adds noise of σ = E × zone mean; the same seed gives the same forecasts."""
    loaded = scenario(tmp_path, [job_row("a", "00:00", 3600, "23:00")])
    truth = np.array(DAY[:23])
    first = forecasts_seen(tmp_path, loaded, "gauss:0.1", seed=1)[0]
    again = forecasts_seen(tmp_path, loaded, "gauss:0.1", seed=1)[0]
    other = forecasts_seen(tmp_path, loaded, "gauss:0.1", seed=2)[0]
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert 0 < np.std(first - truth) < 0.3 * np.mean(DAY)
    assert np.array_equal(forecasts_seen(tmp_path, loaded, "perfect")[0], truth)


def test_ar1_error_is_zero_now_and_horizon_fills_the_rest(tmp_path: Path) -> None:
    """ar1 starts exact at the issue slot; beyond --horizon-h the forecast is flat."""
    loaded = scenario(tmp_path, [job_row("a", "00:00", 3600, "23:00")])
    ar1 = forecasts_seen(tmp_path, loaded, "ar1:0.2:0.9")[0]
    assert ar1[0] == DAY[0]
    limited = forecasts_seen(tmp_path, loaded, "perfect", horizon_h=6)[0]
    assert list(limited[:6]) == DAY[:6]
    assert np.all(limited[6:] == np.mean(DAY[:6]))


class RecordingForecaster:
    """A SignalForecaster that predicts the last observed value and records its inputs."""

    name = "test-last-value"

    def __init__(self) -> None:
        self.histories: list[list[float]] = []

    def predict(
        self, zone: str, history_g_per_kwh: Sequence[float], step_s: int, horizon_steps: int
    ) -> Sequence[float]:
        if not history_g_per_kwh:
            raise ForecastUnavailable("no history")
        self.histories.append(list(history_g_per_kwh))
        return [history_g_per_kwh[-1]] * horizon_steps


def test_model_forecast_sees_only_the_past(tmp_path: Path) -> None:
    """--forecast model feeds the forecaster the observed slots before the decision only."""
    loaded = scenario(
        tmp_path, [job_row("a", "00:00", 3600, "23:00"), job_row("b", "05:00", 3600, "23:00")]
    )
    forecaster = RecordingForecaster()
    points: list[DecisionPoint] = []
    options = EngineOptions(forecast=parse_forecast("model"))
    simulate(
        loaded,
        traces_for(tmp_path),
        CheapestPolicy(),
        options=options,
        forecaster=forecaster,
        observer=points.append,
    )
    assert forecaster.histories[0] == DAY[:5]  # the decision at 05:00 saw 00:00–04:00
    at_five = next(p for p in points if p.time.hour == 5)
    assert np.all(at_five.problem.intensity[0] == DAY[4])


def test_forecast_spec_parsing() -> None:
    """Bad --forecast values are ConfigErrors that list the valid forms."""
    assert parse_forecast("ar1:0.1").phi_per_hour == 0.9
    assert parse_forecast("gauss:0.05").error == 0.05
    for bad in ("gauss", "gauss:x", "ar1:0.1:1.5", "magic", "perfect:1"):
        with pytest.raises(ConfigError, match="gauss:E"):
            parse_forecast(bad)


def _problem_on_the_8th_at_five(
    loaded: Scenario, traces: dict[str, IntensityTrace], options: EngineOptions
) -> PlanProblem:
    """The problem the policy saw at 05:00 on the 8th (a week after day 1's jobs)."""
    points: list[DecisionPoint] = []
    simulate(loaded, traces, EarliestPolicy(), options=options, observer=points.append)
    return next(p.problem for p in points if p.time.day == 8 and p.time.hour == 5)


def test_arrival_forecast_holds_last_weeks_rigid_jobs_from_the_past_only(tmp_path: Path) -> None:
    """A week later the planner sees last week's rigid job's latest window as expected use,
    and never a job submitted after "now" (the horizon here is longer than a week)."""
    loaded = scenario(
        tmp_path,
        [
            job_row("last-week", "06:00", 2 * 3600, "12:00", gpus=3),
            job_row("now", "05:00", 3600, "20:00", day=8, deadline_day=16),
            job_row("later", "06:00", 3600, "20:00", gpus=5, day=8),
        ],
    )
    traces = read_carbon_csv(write_carbon(tmp_path / "c.csv", {"DE": DAY * 9}))
    at_five = _problem_on_the_8th_at_five(loaded, traces, EngineOptions(arrival_forecast=1.0))
    assert at_five.expected_use is not None
    held = [int(v) for v in at_five.expected_use[0]]
    # last week's job is due again on the 8th at 12:00: latest window 10:00–12:00 (slots 5, 6)
    assert held[:8] == [0, 0, 0, 0, 0, 3, 3, 0]
    # "later" (submitted at 06:00) would be held on the 15th at 19:00 if it leaked
    assert max(held) == 3
    points: list[DecisionPoint] = []
    simulate(loaded, traces, EarliestPolicy(), observer=points.append)
    assert all(p.problem.expected_use is None for p in points)


def test_arrival_reserve_spreads_last_weeks_jobs_of_both_kinds_from_the_past_only(
    tmp_path: Path,
) -> None:
    """A week later last week's jobs (an interruptible one here) are expected demand, spread
    over their windows; a job submitted after "now" never is, though the horizon reaches it."""
    loaded = scenario(
        tmp_path,
        [
            job_row("last-week", "06:00", 2 * 3600, "12:00", gpus=3, interruptible=True),
            job_row("now", "05:00", 3600, "20:00", day=8, deadline_day=16),
            job_row("later", "06:00", 7 * 3600, "20:00", gpus=8, day=8),
        ],
    )
    traces = read_carbon_csv(write_carbon(tmp_path / "c.csv", {"DE": DAY * 9}))
    at_five = _problem_on_the_8th_at_five(loaded, traces, EngineOptions(arrival_reserve=1.0))
    assert at_five.expected_demand is not None
    assert at_five.expected_use is None
    wanted = [int(v) for v in at_five.expected_demand[0]]
    # 3 GPUs × 2 h over its 6 h window (06:00–12:00 on the 8th): 1 GPU from slot 1 to 6
    assert wanted[:8] == [0, 1, 1, 1, 1, 1, 1, 0]
    # "later" (8 GPUs × 7 h over 14 h) would want 4 GPUs on the 15th if it leaked
    assert max(wanted) == 1
