"""JobSpec validation and the job state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from scheduler import (
    TRANSITIONS,
    IllegalTransitionError,
    Job,
    JobSpec,
    JobState,
    Reject,
    Start,
    Wait,
)
from scheduler.model import Forecast, ForecastProvenance, IntensityPoint, LedgerEntry

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def spec(**changes: Any) -> dict[str, Any]:
    """A valid JobSpec payload, with ``changes`` applied."""
    payload: dict[str, Any] = {
        "name": "train-llm",
        "entrypoint": ["python", "train.py", "--lr", "3e-4"],
        "gpus": 4,
        "estimated_duration_s": 6 * 3600,
        "deadline": NOW + timedelta(hours=36),
        "zones": ["DE", "FR"],
    }
    payload.update(changes)
    return payload


def errors_of(payload: dict[str, Any], **context: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        JobSpec.model_validate(payload, context=context or None)
    return str(caught.value)


def test_valid_spec_round_trips_through_json() -> None:
    """A valid spec survives JSON serialisation unchanged."""
    job = JobSpec.model_validate(spec())
    assert JobSpec.model_validate_json(job.model_dump_json()) == job


def test_naive_deadline_is_rejected_with_an_example() -> None:
    """A deadline without a timezone names the field and shows an accepted form."""
    message = errors_of(spec(deadline=datetime(2026, 11, 28, 8, 0)))  # noqa: DTZ001
    assert "deadline must include a timezone, e.g. 2026-11-28T08:00:00Z" in message


def test_naive_iso_string_is_rejected() -> None:
    """The same holds for JSON input without an offset."""
    message = errors_of(spec(earliest_start="2026-11-27T08:00:00", deadline="2026-11-29T08:00Z"))
    assert "earliest_start must include a timezone" in message


def test_datetimes_are_normalised_to_utc() -> None:
    """A deadline given in another offset is stored as the same instant in UTC."""
    cet = timezone(timedelta(hours=1))
    job = JobSpec.model_validate(spec(deadline=datetime(2026, 11, 28, 9, 0, tzinfo=cet)))
    assert job.deadline == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    assert job.deadline.tzinfo == UTC


def test_deadline_before_earliest_start_plus_duration_is_rejected() -> None:
    """The deadline must leave room for the whole estimated run after the earliest start."""
    message = errors_of(
        spec(earliest_start=NOW, deadline=NOW + timedelta(hours=5), estimated_duration_s=21600)
    )
    assert "deadline" in message
    assert "estimated_duration_s 21600" in message
    assert "move the deadline" in message


def test_deadline_is_checked_against_now_from_context() -> None:
    """Without an earliest start, the deadline is checked against the ``now`` the caller gives."""
    payload = spec(deadline=NOW + timedelta(hours=2), estimated_duration_s=3 * 3600)
    JobSpec.model_validate(payload)  # no "now": nothing to compare against
    assert "now" in errors_of(payload, now=NOW)


@pytest.mark.parametrize("field", ["gpus", "estimated_duration_s"])
@pytest.mark.parametrize("value", [0, -1])
def test_non_positive_counts_are_rejected(field: str, value: int) -> None:
    """Zero or negative GPUs and durations name the field and the value."""
    assert f"{field} must be at least 1 (got {value})" in errors_of(spec(**{field: value}))


@pytest.mark.parametrize("value", [0.0, 49.9, 1000.1, 250_000.0, -5.0])
def test_power_cap_outside_range_is_rejected(value: float) -> None:
    """A power cap outside 50–1000 W per GPU is almost surely a unit mistake."""
    message = errors_of(spec(power_cap_w=value))
    assert "power_cap_w must be between 50 and 1000 W" in message
    assert f"got {value:g}" in message


@pytest.mark.parametrize("value", [0.0, -1.0])
def test_non_positive_energy_cap_is_rejected(value: float) -> None:
    """An energy cap must be positive."""
    assert "energy_cap_kwh must be greater than 0" in errors_of(spec(energy_cap_kwh=value))


def test_energy_cap_policy_defaults_to_stop_and_accepts_the_three_policies() -> None:
    """Without a policy a job stops at its energy cap; throttle and notify are accepted."""
    assert JobSpec.model_validate(spec()).energy_cap_policy == "stop"
    for policy in ("stop", "throttle", "notify"):
        assert JobSpec.model_validate(spec(energy_cap_policy=policy)).energy_cap_policy == policy


def test_unknown_energy_cap_policy_is_rejected_naming_the_choices() -> None:
    """An unknown policy names the field, the bad value and the accepted ones."""
    message = errors_of(spec(energy_cap_policy="pause"))
    assert "energy_cap_policy" in message
    assert "'pause'" in message
    assert "'stop', 'throttle' or 'notify'" in message


def test_unknown_zone_is_rejected_when_zones_are_configured() -> None:
    """With a configured zone list, an unknown zone is named along with the valid ones."""
    message = errors_of(spec(zones=["DE", "XX"]), known_zones={"DE", "FR"})
    assert "unknown zone(s) ['XX']" in message
    assert "['DE', 'FR']" in message


def test_any_zone_is_accepted_without_a_zone_list() -> None:
    """Without a configured list the spec cannot judge zones."""
    assert JobSpec.model_validate(spec(zones=["XX"])).zones == ("XX",)


@pytest.mark.parametrize("argv", [[], [""], ["   "]])
def test_empty_entrypoint_is_rejected(argv: list[str]) -> None:
    """An entrypoint must name a program."""
    assert "entrypoint must name a program" in errors_of(spec(entrypoint=argv))


def test_unknown_fields_are_rejected() -> None:
    """A misspelt field is an error, not silently ignored."""
    assert "deadlline" in errors_of(spec(deadlline=NOW))


def test_latest_safe_start_applies_the_margin() -> None:
    """latest safe start = deadline − duration × (1 + margin)."""
    job = JobSpec.model_validate(spec(estimated_duration_s=10 * 3600))
    assert job.latest_safe_start(0.1) == job.deadline - timedelta(hours=11)


@given(
    gpus=st.integers(min_value=-3, max_value=64),
    duration_s=st.integers(min_value=-10, max_value=10**6),
    slack_s=st.integers(min_value=-(10**6), max_value=10**6),
    cap=st.none() | st.floats(min_value=-100, max_value=2000, allow_nan=False),
)
def test_validation_accepts_exactly_the_valid_specs(
    gpus: int, duration_s: int, slack_s: int, cap: float | None
) -> None:
    """A spec validates if and only if every rule holds (property)."""
    payload = spec(
        gpus=gpus,
        estimated_duration_s=duration_s,
        earliest_start=NOW,
        deadline=NOW + timedelta(seconds=duration_s + slack_s),
        power_cap_w=cap,
    )
    valid = gpus >= 1 and duration_s >= 1 and slack_s >= 0 and (cap is None or 50 <= cap <= 1000)
    try:
        JobSpec.model_validate(payload)
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted == valid


# --- the state machine ---------------------------------------------------------------------


def make_job(state: JobState = JobState.PENDING) -> Job:
    return Job(
        id="job-1",
        spec=JobSpec.model_validate(spec()),
        state=state,
        submitted_at=NOW,
        updated_at=NOW,
    )


def test_happy_path_through_the_state_machine() -> None:
    """PENDING → DEFERRED → DISPATCHED → RUNNING → SUCCEEDED is allowed step by step."""
    job = make_job()
    for step, to in enumerate(
        [JobState.DEFERRED, JobState.DISPATCHED, JobState.RUNNING, JobState.SUCCEEDED], 1
    ):
        job = job.transition(to, at=NOW + timedelta(minutes=step))
    assert job.state is JobState.SUCCEEDED
    assert job.updated_at == NOW + timedelta(minutes=4)
    assert job.state.terminal


def test_illegal_transition_names_the_allowed_ones() -> None:
    """Skipping from PENDING to SUCCEEDED raises and lists what is allowed."""
    with pytest.raises(IllegalTransitionError, match="cannot move from PENDING to SUCCEEDED"):
        make_job().transition(JobState.SUCCEEDED, at=NOW)


def test_transition_leaves_the_original_untouched() -> None:
    """Jobs are values: a transition returns a new job."""
    job = make_job()
    moved = job.transition(JobState.DISPATCHED, at=NOW, attempt=1)
    assert (job.state, job.attempt) == (JobState.PENDING, 0)
    assert (moved.state, moved.attempt) == (JobState.DISPATCHED, 1)


@given(
    start=st.sampled_from(list(JobState)),
    path=st.lists(st.sampled_from(list(JobState)), max_size=12),
)
def test_state_machine_allows_exactly_the_table(start: JobState, path: list[JobState]) -> None:
    """Every move succeeds iff the table allows it; terminal states never change (property)."""
    job = make_job(start)
    for to in path:
        allowed = to in TRANSITIONS[job.state]
        if allowed:
            job = job.transition(to, at=NOW)
            assert job.state is to
        else:
            before = job.state
            with pytest.raises(IllegalTransitionError):
                job.transition(to, at=NOW)
            assert job.state is before


def test_terminal_states_are_exactly_the_final_outcomes() -> None:
    """SUCCEEDED, FAILED, CANCELLED, CAPPED and EXPIRED are final; the rest are not."""
    terminal = {state for state in JobState if state.terminal}
    assert terminal == {
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.CAPPED,
        JobState.EXPIRED,
    }


# --- other value objects ----------------------------------------------------------------------


def test_decisions_carry_an_explanation_and_a_kind() -> None:
    """Each decision kind is tagged so it survives JSON round trips."""
    decisions = [
        Start(job_id="a", region="de-1", explanation="run now in DE; greenest window"),
        Wait(job_id="b", until=NOW, region="fr-1", explanation="deferred 5 h to 17:00 UTC"),
        Reject(job_id="c", explanation="deadline can no longer be met"),
    ]
    assert [d.kind for d in decisions] == ["start", "wait", "reject"]
    assert all(d.explanation for d in decisions)


def test_forecast_requires_a_uniform_step() -> None:
    """A gap in a forecast is an error naming the two timestamps around it."""
    provenance = ForecastProvenance(
        provider="static", zone="DE", generated_at=NOW, fetched_at=NOW, horizon_s=7200
    )
    points = (
        IntensityPoint(start=NOW, g_per_kwh=300),
        IntensityPoint(start=NOW + timedelta(hours=2), g_per_kwh=310),
    )
    with pytest.raises(ValidationError, match="must advance by exactly 3600 s"):
        Forecast(zone="DE", step_s=3600, points=points, provenance=provenance)


def test_ledger_entry_savings() -> None:
    """Savings are the counterfactual minus the realised emissions, also as a percentage."""
    entry = LedgerEntry(
        job_id="a",
        attempt=1,
        team="nlp",
        project="llm",
        model_version="v3",
        region="de-1",
        zone="DE",
        cluster="local",
        submitted_at=NOW,
        planned_start=NOW,
        started_at=NOW,
        ended_at=NOW + timedelta(hours=1),
        final_state=JobState.SUCCEEDED,
        gpus=1,
        power_cap_w=None,
        energy_mj=3_600_000_000,
        energy_source="simulated",
        intensity_g_per_kwh=200.0,
        intensity_provenance=None,
        emissions_g=200.0,
        counterfactual_emissions_g=250.0,
        carbonshift_version="0.1.0",
    )
    assert entry.savings_g == 50.0
    assert entry.savings_pct == 20.0
