"""The arrival forecasts (last week's jobs, again) and how the planner uses them."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from scheduler.planning import carbonshift
from scheduler.planning.arrivals import (
    CRUNCH_SCALE,
    CRUNCH_SURGE,
    History,
    last_period_demand,
    last_period_jobs,
    last_period_load,
    last_period_use,
    submission_surge,
    with_arrivals,
)
from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.planning.denoise import noise_share
from scheduler.planning.exact import Window, solve
from scheduler.planning.problem import PlanJob, PlanProblem
from tests.scheduler.planning.problems import make_job, make_problem

PERIOD = 20


def history(*jobs: tuple[int, int, int, int, bool]) -> History:
    """Jobs as (release, deadline, duration, gpus, interruptible), all in region 0."""
    rows = np.array([job[:4] for job in jobs], dtype=np.int64).reshape(-1, 4)
    return History(
        release=rows[:, 0],
        deadline=rows[:, 1],
        duration=rows[:, 2],
        gpus=rows[:, 3],
        region=np.zeros(len(jobs), dtype=np.int64),
        interruptible=np.array([job[4] for job in jobs], dtype=np.bool_),
    )


def use(past: History, now: int = 30, slots: int = 16, scale: float = 1.0) -> list[int]:
    held = last_period_use(past, now=now, slots=slots, regions=1, period=PERIOD, scale=scale)
    return [int(v) for v in held[0]]


def test_last_weeks_rigid_job_is_expected_again_at_its_latest_window() -> None:
    """Released at 13 (now − period + 3), due 23: next period due at 43 = slot 13 from now."""
    held = use(history((13, 23, 4, 2, False)))
    assert held == [0] * 9 + [2] * 4 + [0] * 3


def test_scale_multiplies_the_gpus_and_rounds_down() -> None:
    assert max(use(history((13, 23, 4, 2, False)), scale=1.5)) == 3
    assert max(use(history((13, 23, 4, 1, False)), scale=0.5)) == 0


def test_interruptible_unseen_and_out_of_horizon_jobs_are_not_held() -> None:
    """A 40-slot horizon (longer than the period) would reach jobs released after now."""
    past = history(
        (13, 23, 4, 2, True),  # interruptible: runs in whatever pieces are free
        (31, 35, 2, 2, False),  # released after now (30): not known yet
        (9, 40, 4, 2, False),  # released more than a period ago
        (14, 55, 4, 2, False),  # due at slot 45 from now, past the 40-slot horizon
    )
    assert use(past, slots=40) == [0] * 40


def test_bad_period_or_scale_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="period 0 slots must be positive"):
        last_period_use(history(), now=0, slots=4, regions=1, period=0, scale=1.0)
    with pytest.raises(ValueError, match=r"scale -1\.0 at least 0"):
        last_period_use(history(), now=0, slots=4, regions=1, period=5, scale=-1.0)


def test_carbonshift_keeps_expected_gpus_free_when_known_jobs_fit_elsewhere() -> None:
    """The greenest slot is expected to be needed by an arrival: the known job moves off it."""
    job = make_job("a", 0, 4, 1, interruptible=False)
    plain = make_problem([[5.0, 4.0, 1.0, 3.0]], 1, [job])
    held = replace(plain, expected_use=np.array([[0, 0, 1, 0]], dtype=np.int64))
    policy = CarbonshiftPolicy()
    assert policy.plan(plain).placements["a"][0].start == 2
    assert policy.plan(held).placements["a"][0].start == 3


def test_carbonshift_ignores_the_forecast_when_it_would_leave_a_known_job_out() -> None:
    job = make_job("a", 0, 2, 2)
    problem = make_problem([[5.0, 4.0, 1.0]], 1, [job])
    held = replace(problem, expected_use=np.array([[1, 0, 0]], dtype=np.int64))
    plan = CarbonshiftPolicy().plan(held)
    assert plan.unplaced == ()
    assert plan.placements["a"][0].start == 0


def test_the_try_in_the_held_capacity_does_not_rescue_a_job_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first, tentative plan in the capacity the forecast leaves drops a job that needs
    every slot; it is not re-solved with its rivals there (that costs up to
    ``rescue_time_limit_s``), because the plan in the whole capacity follows and places it."""
    rescues: list[int] = []
    real = carbonshift.replace_jobs

    def counted(*args: object, **kwargs: object) -> object:
        rescues.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(carbonshift, "replace_jobs", counted)
    jobs = [make_job("a", 0, 8, 8), make_job("b", 0, 8, 1)]  # a needs every slot
    problem = make_problem([[5.0, 4.0, 1.0, 3.0, 2.0, 6.0, 1.0, 2.0]], 2, jobs)
    held = replace(problem, expected_use=np.array([[0, 0, 0, 2, 0, 0, 0, 0]], dtype=np.int64))
    policy = CarbonshiftPolicy(exact_max_vars=1)  # the heuristic path, with its repairs
    plan = policy.plan(held)
    assert plan.unplaced == ()
    assert sum(seg.end - seg.start for seg in plan.placements["a"]) == 8
    assert rescues == []


def expected_ids(past: History, now: int = 30, slots: int = 16, scale: float = 1.0) -> list[str]:
    jobs = last_period_jobs(past, now=now, slots=slots, period=PERIOD, scale=scale)
    return [job.id for job in jobs]


def test_last_weeks_rigid_jobs_come_back_a_period_later_with_their_regions() -> None:
    """Released at 13, due 23: next period released at slot 3 from now (30), due at 13."""
    past = replace(history((13, 23, 4, 2, False)), allowed=((0, 2),))
    (job,) = last_period_jobs(past, now=30, slots=16, period=PERIOD, scale=1.0)
    assert (job.release_slot, job.deadline_slot, job.duration_slots, job.gpus) == (3, 13, 4, 2)
    assert (job.regions, job.home_region, job.interruptible) == ((0, 2), 0, False)


def test_only_known_rigid_jobs_whose_window_fits_the_horizon_come_back() -> None:
    past = history(
        (13, 23, 4, 2, True),  # interruptible: the demand covers it
        (31, 35, 2, 2, False),  # released after now (30): not known yet
        (9, 40, 4, 2, False),  # released more than a period ago
        (14, 47, 4, 2, False),  # due at slot 37 from now, past the 36-slot horizon
        (12, 20, 4, 1, False),  # comes back at 2, due 10: inside
        (13, 21, 4, 1, False),  # and at 3, due 11
    )
    assert expected_ids(past, slots=36) == ["expected:4.0", "expected:5.0"]
    assert expected_ids(past, slots=36, scale=1.5) == [
        "expected:4.0",
        "expected:5.0",
        "expected:5.1",
    ]
    assert expected_ids(past, slots=36, scale=0.0) == []
    with pytest.raises(ValueError, match=r"scale -1\.0 at least 0"):
        expected_ids(past, scale=-1.0)


def test_the_planner_leaves_an_expected_job_its_green_window() -> None:
    """One GPU; the known job could run in slot 2 or 3, the expected one only in 2–3 (two
    slots): alone the known job takes the greener slot 2; with the expected job it starts
    at 0, and the expected job is in no placement."""
    known = make_job("a", 0, 4, 2)
    plain = make_problem([[5.0, 4.0, 1.0, 1.5]], 1, [known])
    later = make_job("expected:0.0", 2, 4, 2)
    with_later = replace(plain, expected_jobs=(later,))
    policy = CarbonshiftPolicy()
    assert policy.plan(plain).placements["a"][0].start == 2
    plan = policy.plan(with_later)
    assert plan.placements["a"][0].start == 0
    assert set(plan.placements) == {"a"}
    assert plan.unplaced == ()


def test_a_known_job_never_makes_way_for_an_expected_one() -> None:
    """Both need every slot of one GPU: the expected job is left out, not the known one."""
    known = make_job("a", 0, 3, 3)
    problem = make_problem([[5.0, 4.0, 1.0]], 1, [known])
    plan = CarbonshiftPolicy().plan(replace(problem, expected_jobs=(make_job("e", 0, 3, 3),)))
    assert plan.unplaced == ()
    assert plan.placements["a"][0].start == 0
    assert set(plan.placements) == {"a"}


def test_the_exact_model_leaves_out_an_expected_job_before_any_known_one() -> None:
    """However dear leaving an expected job out is, leaving a known one out is dearer, so
    the first model already places the known job (before, it was left out and a second,
    fewest-left-out model had to put it back)."""
    grid = np.array([[5.0, 4.0, 1.0]])
    window = Window(t0=0, t1=3, intensity=grid, capacity=np.ones((1, 3), np.int64), slot_h=0.25)
    known, later = make_job("a", 0, 3, 3), make_job("e", 0, 3, 3)
    sol = solve([known], window, None, expected=[later], expected_g_per_kwh=1000.0)
    assert sol.optimal
    assert sol.values[sol.blocks[0].u] == pytest.approx(0.0)


def test_expected_jobs_beyond_the_model_budget_are_dropped_latest_released_first() -> None:
    """One GPU; the known job ``a`` (3 variables) would make way for ``expected:0`` (1
    variable, released at 2) but not for ``expected:1`` (5 variables, released at 6). With
    room for ``a`` and one variable more, the sooner ``expected:0`` is kept, though listed
    second; with room for ``a`` alone, neither is, and ``a`` takes the green slot 2."""
    known = make_job("a", 0, 4, 2)
    problem = make_problem([[5.0, 4.0, 1.0, 1.5] + [3.0] * 8], 1, [known])
    soon, late = make_job("expected:0.0", 2, 4, 2), make_job("expected:1.0", 6, 12, 2)
    with_later = replace(problem, expected_jobs=(late, soon))
    assert CarbonshiftPolicy(exact_max_vars=4).plan(with_later).placements["a"][0].start == 0
    assert CarbonshiftPolicy(exact_max_vars=3).plan(with_later).placements["a"][0].start == 2


def test_a_solve_that_stops_beside_expected_jobs_plans_the_queue_alone() -> None:
    """100 rigid expected jobs overfill two regions, whose LP HiGHS cannot solve in half a
    second (over a minute here): the plan is the queue's own exact plan, not a slow
    fewest-left-out model and a heuristic plan (``benchmarks/expected_jobs.py``)."""
    rng = np.random.default_rng(0)
    slots = 192
    curve = 250 + 120 * np.sin(2 * np.pi * np.arange(slots) / 96)
    intensity = np.stack([curve, np.roll(curve, 40)]) + rng.normal(0, 4, (2, slots))

    def job(name: str, release: int, interruptible: bool) -> PlanJob:
        duration = int(rng.integers(1, 16))
        deadline = min(slots, release + duration + int(rng.integers(8, 65)))
        return make_job(
            name, release, deadline, duration, regions=(0, 1), interruptible=interruptible
        )

    queue = [job(f"job-{i}", 0, i % 2 == 0) for i in range(8)]
    later = tuple(job(f"expected:{i}.0", int(rng.integers(0, 96)), False) for i in range(100))
    alone = make_problem(intensity, 2, queue)
    policy = CarbonshiftPolicy(exact_time_limit_s=0.5)
    plan = policy.plan(replace(alone, expected_jobs=later))
    assert plan.unplaced == ()
    assert dict(plan.placements) == dict(policy.plan(alone).placements)


def test_a_known_job_takes_an_expected_ones_room_when_that_saves_enough() -> None:
    """At ``expected_job_cost`` 0 an expected job is worth nothing: the known job keeps the
    green slot; at the default it leaves it."""
    known = make_job("a", 0, 4, 2)
    problem = make_problem([[5.0, 4.0, 1.0, 1.5]], 1, [known])
    with_later = replace(problem, expected_jobs=(make_job("e", 2, 4, 2),))
    assert CarbonshiftPolicy(expected_job_cost=0.0).plan(with_later).placements["a"][0].start == 2


def test_an_expected_jobs_room_is_a_mix_of_its_windows_unless_whole() -> None:
    """Two GPUs; the expected job needs both for two of four slots, the known job one GPU
    for two, greenest at 1–2. As a mix of windows (half the expected job starting at 0, half
    at 2) the room leaves the known job its green slots; as one whole window it moves it."""
    known = make_job("a", 0, 4, 2)
    problem = make_problem([[5.0, 1.0, 1.0, 5.0]], 2, [known])
    with_later = replace(problem, expected_jobs=(make_job("e", 0, 4, 2, gpus=2),))
    mixed = CarbonshiftPolicy().plan(with_later)
    whole = CarbonshiftPolicy(expected_whole_windows=True).plan(with_later)
    assert mixed.placements["a"][0].start == 1
    assert whole.placements["a"][0].start in (0, 2)
    assert mixed.unplaced == whole.unplaced == ()
    assert set(mixed.placements) == set(whole.placements) == {"a"}


def demand(past: History, now: int = 30, slots: int = 16, scale: float = 1.0) -> list[int]:
    wanted = last_period_demand(past, now=now, slots=slots, regions=1, period=PERIOD, scale=scale)
    return [int(v) for v in wanted[0]]


def test_demand_spreads_each_jobs_gpu_slots_over_its_window_for_both_kinds() -> None:
    """Released at 12 and 14 → 2 and 4 from now; 4 × 2 GPU-slots over a 4-slot window = 2."""
    past = history(
        (12, 16, 4, 2, True),  # interruptible: counted too, 8 GPU-slots over slots 2–5
        (14, 22, 4, 4, False),  # rigid: 16 GPU-slots over slots 4–11, 2 per slot
    )
    assert demand(past) == [0, 0, 2, 2, 4, 4, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0]


def test_demand_scales_rounds_down_cuts_at_the_horizon_and_skips_unseen_jobs() -> None:
    past = history(
        (14, 22, 4, 4, False),
        (31, 35, 2, 8, False),  # released after now (30): not known yet
        (9, 20, 4, 8, True),  # released more than a period ago
    )
    assert demand(past, scale=1.25) == [0] * 4 + [2] * 8 + [0] * 4
    assert demand(past, slots=6) == [0] * 4 + [2] * 2
    with pytest.raises(ValueError, match=r"scale -1\.0 at least 0"):
        last_period_demand(past, now=30, slots=4, regions=1, period=PERIOD, scale=-1.0)


def test_carbonshift_prices_the_demand_reserve_and_never_leaves_a_job_out_for_it() -> None:
    """A reserve priced above the saving moves the job; one under it, or a full one, does not."""
    job = make_job("a", 0, 4, 1)
    plain = make_problem([[5.0, 4.0, 1.0, 3.0]], 1, [job])
    green_wanted = replace(plain, expected_demand=np.array([[0, 0, 1, 0]], dtype=np.int64))
    everywhere = replace(plain, expected_demand=np.ones((1, 4), dtype=np.int64))

    def start(problem: PlanProblem, cost: float) -> int:
        plan = CarbonshiftPolicy(arrival_reserve_cost=cost).plan(problem)
        assert plan.unplaced == ()
        return plan.placements["a"][0].start

    assert start(plain, 5.0) == 2
    assert start(green_wanted, 5.0) == 3  # 5 × spread per GPU-slot > the 2-unit saving
    assert start(green_wanted, 0.1) == 2  # 0.1 × spread < the saving: worth the reserve
    assert start(everywhere, 5.0) == 2  # every slot reserved: the price is the same anywhere


def surge(past: History, now: int = 30, window: int = 4) -> float:
    return submission_surge(past, now=now, period=PERIOD, window=window)


def test_surge_is_the_last_windows_work_over_the_same_window_a_period_before() -> None:
    past = history(
        (27, 40, 2, 3, True),  # 6 GPU-slots in the last window (26, 30]
        (30, 40, 1, 2, False),  # 2 more, submitted at "now"
        (8, 20, 4, 1, False),  # 4 GPU-slots in the same window a period before, (6, 10]
        (6, 20, 4, 8, False),  # just before that window: not counted
        (11, 20, 4, 8, False),  # just after it: not counted
        (31, 40, 4, 8, False),  # not submitted yet
    )
    assert surge(past) == 2.0
    assert surge(past, window=5) == pytest.approx(8 / 36)  # (5, 10] now holds the 8-GPU job
    assert surge(history()) == 1.0  # no work in either window: no surge
    assert surge(history((29, 40, 1, 1, True))) == math.inf  # nothing a period before
    with pytest.raises(ValueError, match=r"window 0 slots must be positive"):
        surge(past, window=0)


def test_carbonshift_defers_less_in_a_surge_or_on_a_tight_cluster() -> None:
    """A crowded queue (8 of 10 slots): waiting one slot saves 0.06 and costs 8 slots of
    lateness. Without a surge that is 1.0 × spread per day (0.083, so it runs now); with
    one it is 0.4 × surge^1.5, from 1 to 4 × (0.033 in a quiet week: it waits; 0.133 at 4 ×
    or with no history: it runs now). The 0.4 rises to 1.0 as last week's load goes from
    0.6 to 0.75 of the cluster."""
    job = make_job("a", 0, 10, 8)
    plain = make_problem([[1.06] + [1.0] * 9], 1, [job])

    def start(surge: float | None, load: float | None = None) -> int:
        problem = replace(plain, arrival_surge=surge, arrival_load=load)
        return CarbonshiftPolicy().plan(problem).placements["a"][0].start

    assert start(None) == 0
    assert start(0.5) == 1  # a quieter week than the last counts as an ordinary one
    assert start(1.0) == 1
    assert start(4.0) == 0
    assert start(math.inf) == 0
    assert start(1.0, load=0.6) == 1
    assert start(1.0, load=0.7) == 0  # base 0.8: 0.067 > 0.06
    assert start(1.0, load=0.9) == 0


def test_a_noisy_forecast_defers_less_in_a_surge() -> None:
    """The setting above in a mild surge (1.31: 1.5 × the base). Waiting one slot saves 0.06
    on either row; it costs 0.4 × 1.5 / 12 = 0.05 on the clean row, and on the noisy one
    (white noise 0.6 of its spread) 0.6 × 1.5 / 12 = 0.075, so the job runs now. The rows
    are planned as they are (no denoising), so only the lateness cost differs."""
    job = make_job("a", 0, 10, 8)
    clean = [1.06] + [1.0] * 9
    noisy = [1.06, 1.0, 1.4, 1.0, 1.4, 1.0, 1.4, 1.0, 1.0, 1.4]
    assert noise_share(np.array([clean])) == 0.0
    assert noise_share(np.array([noisy])) > CarbonshiftPolicy().noise_high

    def start(row: list[float], **settings: float) -> int:
        problem = replace(make_problem([row], 1, [job]), arrival_surge=1.31)
        policy = CarbonshiftPolicy(denoise_forecast=False, **settings)
        return policy.plan(problem).placements["a"][0].start

    assert start(clean) == 1
    assert start(noisy) == 0
    assert start(noisy, noisy_surge_lateness_cost=0.4) == 1  # no extra cost for noise
    assert start(noisy, noise_low=0.7, noise_high=0.8) == 1  # this noise under noise_low


def test_a_noisy_forecast_holds_rigid_jobs_with_days_of_slack() -> None:
    """On 15-min slots 48 h is 192 slots. Every job's cheapest window starts now on both rows
    (they rise, and the noise cancels over a window of even length). On the noisy row the
    rigid job with 296 slots of slack waits; the one with 146 does not, nor is the
    interruptible one held. No surge and no crowding here, so the lateness cost plays no part."""
    t = np.arange(300)
    clean = 1.0 + 0.01 * t
    noisy = clean + 0.5 * (-1.0) ** t
    assert noise_share(noisy[None, :]) >= CarbonshiftPolicy().noise_high
    jobs = [
        make_job("far", 0, 300, 4),
        make_job("near", 0, 150, 4),
        make_job("split", 0, 300, 4, interruptible=True),
    ]

    def starts(row: np.ndarray, **settings: float) -> dict[str, int]:
        policy = CarbonshiftPolicy(denoise_forecast=False, **settings)
        plan = policy.plan(make_problem([row], 10, jobs))
        return {job: segments[0].start for job, segments in plan.placements.items()}

    assert starts(clean) == {"far": 0, "near": 0, "split": 0}
    # the interruptible job takes the noisy row's cheap odd slots, held or not
    assert starts(noisy) == {"far": 1, "near": 0, "split": 1}
    assert starts(noisy, noisy_hold_h=0.0) == {"far": 0, "near": 0, "split": 1}
    assert starts(noisy, noisy_hold_h=80.0) == {"far": 0, "near": 0, "split": 1}  # 320 slots
    policy = CarbonshiftPolicy(denoise_forecast=False)
    only_now = [[1] * 4 + [0] * 296]  # held, "far" would fit nowhere: so it is not held
    assert policy.plan(make_problem([noisy], only_now, jobs[:1])).placements["far"][0].start == 0
    before = policy.plan(make_problem([clean], only_now, jobs[:1]))
    again = policy.replan(make_problem([noisy], only_now, jobs[:1]), before)
    assert again.placements["far"][0].start == 0
    previous = policy.plan(make_problem([clean], 10, jobs))
    replanned = policy.replan(make_problem([noisy], 10, jobs), previous)
    assert replanned.placements["far"][0].start == 1


def test_last_periods_load_is_its_work_over_the_gpu_slots_offered() -> None:
    past = history(
        (12, 30, 4, 2, True),  # 8 GPU-slots in (10, 30]
        (30, 40, 2, 1, False),  # 2 more, submitted at "now"
        (10, 30, 8, 8, False),  # a period before "now" and earlier: not counted
    )
    assert last_period_load(past, now=30, period=PERIOD, gpus=2) == 10 / 40
    assert last_period_load(past, now=30, period=PERIOD, gpus=0) == 0.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"surge_cap": 0.5}, r"surge_cap 0\.5 at least 1"),
        ({"surge_lateness_cost": -0.1}, r"surge_lateness_cost -0\.1 .* at least 0"),
        ({"tight_low": 0.8, "tight_high": 0.7}, r"tight_low 0\.8 .* under tight_high 0\.7"),
        ({"expected_job_cost": -1.0}, r"expected_job_cost -1\.0 must be at least 0"),
        ({"noisy_surge_lateness_cost": -1.0}, r"noisy_surge_lateness_cost -1\.0 must be"),
        ({"noise_low": 0.1, "noise_high": 0.1}, r"noise_low 0\.1 .* under noise_high 0\.1"),
        ({"noisy_hold_h": -1.0}, r"noisy_hold_h -1\.0 must be a finite number of hours"),
        ({"noisy_hold_h": math.inf}, r"noisy_hold_h inf must be a finite number of hours"),
    ],
)
def test_bad_surge_settings_are_refused_with_the_defaults(
    settings: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CarbonshiftPolicy(**settings)


def test_the_reserve_expects_last_weeks_rigid_jobs_back_and_more_in_a_crunch() -> None:
    """On 6-hour slots (a week: 28 slots, the surge's two days: 8): last week's rigid job
    (2 GPUs, 4 slots, released at 14, due at 24) comes back released at 42 and due at 52,
    slots 2–12 of the problem. Once the last two days brought ``CRUNCH_SURGE`` (2.2) × the
    work of the same two days a week before, each comes back ``CRUNCH_SCALE`` (2) times;
    not with the reserve off, and never beside an arrival forecast (which holds its latest
    window instead)."""
    now, six_hours = 40, 6 * 3600
    problem = replace(make_problem([[1.0] * 16], 8, []), slot_s=six_hours)
    rigid = (14, 24, 4, 2, False)
    week_before = (8, 30, 5, 1, True)  # 5 GPU-slots in (4, 12]

    def expected(recent_work: int, *, reserve: float = 1.5, forecast: float = 0.0) -> list[str]:
        jobs = [rigid, rigid, week_before, (38, 60, recent_work, 1, True)]  # (32, 40]
        arrived = with_arrivals(
            problem, history(*jobs), now=now, forecast=forecast, reserve=reserve
        )
        for job in arrived.expected_jobs:
            assert (job.release_slot, job.deadline_slot, job.duration_slots) == (2, 12, 4)
            assert (job.gpus, job.regions, job.interruptible) == (2, (0,), False)
        return [job.id for job in arrived.expected_jobs]

    assert 10 / 5 < CRUNCH_SURGE <= 11 / 5
    assert CRUNCH_SCALE == 2.0
    assert expected(10) == ["expected:0.0", "expected:1.0"]  # surge 2.0: each once
    twice = ["expected:0.0", "expected:0.1", "expected:1.0", "expected:1.1"]
    assert expected(11) == twice  # surge 2.2
    assert expected(40) == twice  # surge 8
    assert expected(11, reserve=0.0) == []
    assert expected(11, forecast=1.0) == []
    no_week = with_arrivals(
        problem, history(rigid, (38, 60, 11, 1, True)), now=now, forecast=0.0, reserve=1.5
    )
    assert no_week.arrival_surge == math.inf
    assert [job.id for job in no_week.expected_jobs] == ["expected:0.0"]  # no crunch scale


def test_insurance_expects_last_weeks_interruptible_jobs_back_as_jobs_not_demand() -> None:
    """On 6-hour slots (a week: 28 slots) last week's interruptible job (4 GPUs, 5 slots,
    released at 14, due at 24) comes back released at slot 2 of the problem and due at 12.
    With ``insurance`` it is an interruptible expected job, × the scale, and the priced
    demand covers none of it; without, it is only demand. Without the reserve: refused."""
    problem = replace(make_problem([[1.0] * 16], 8, []), slot_s=6 * 3600)
    past = history((14, 24, 5, 4, True))

    def arrived(insurance: float, reserve: float = 1.5) -> PlanProblem:
        return with_arrivals(
            problem, past, now=40, forecast=0.0, reserve=reserve, insurance=insurance
        )

    plain, insured, twice = arrived(0.0), arrived(1.0), arrived(2.0)
    assert plain.expected_jobs == ()
    assert plain.expected_demand is not None
    assert [int(v) for v in plain.expected_demand[0]] == [0, 0] + [3] * 10 + [0] * 4
    (job,) = insured.expected_jobs
    assert (job.release_slot, job.deadline_slot, job.duration_slots) == (2, 12, 5)
    assert (job.gpus, job.interruptible) == (4, True)
    assert insured.expected_demand is None
    assert [job.id for job in twice.expected_jobs] == ["expected:0.0", "expected:0.1"]
    with pytest.raises(ValueError, match=r"insurance 1\.0 needs the arrival reserve"):
        arrived(1.0, reserve=0.0)
    with pytest.raises(ValueError, match=r"insurance -1\.0 must be at least 0"):
        arrived(-1.0)


def test_demand_of_one_kind_leaves_the_other_out() -> None:
    past = history((12, 16, 4, 2, True), (14, 22, 4, 4, False))
    rigid = last_period_demand(
        past, now=30, slots=16, regions=1, period=PERIOD, scale=1.0, interruptible=False
    )
    flexible = last_period_demand(
        past, now=30, slots=16, regions=1, period=PERIOD, scale=1.0, rigid=False
    )
    assert [int(v) for v in rigid[0]] == [0] * 4 + [2] * 8 + [0] * 4
    assert [int(v) for v in flexible[0]] == [0, 0, 2, 2, 2, 2] + [0] * 10


def test_a_known_interruptible_job_leaves_an_insured_arrival_the_green_slots() -> None:
    """One GPU; the known job needs any two of four slots (greenest: 2 and 3), last week's
    interruptible job is expected back in slots 2–3 needing both: insured, the known job
    runs in 0–1 and the expected job is in no placement."""
    known = make_job("a", 0, 4, 2, interruptible=True)
    plain = make_problem([[5.0, 4.0, 1.0, 1.5]], 1, [known])
    later = make_job("expected:0.0", 2, 4, 2, interruptible=True)
    policy = CarbonshiftPolicy()
    alone = policy.plan(plain).placements["a"]
    insured = policy.plan(replace(plain, expected_jobs=(later,)))
    assert sorted(t for seg in alone for t in range(seg.start, seg.end)) == [2, 3]
    slots = sorted(t for seg in insured.placements["a"] for t in range(seg.start, seg.end))
    assert slots == [0, 1]
    assert set(insured.placements) == {"a"}
    assert insured.unplaced == ()
