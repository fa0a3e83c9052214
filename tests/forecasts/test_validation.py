"""Payload validation: properties over generated series, and every malformed shape rejected."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasts.validation import (
    RawPoint,
    SeriesMeta,
    ValidationRules,
    parse_utc,
    to_g_per_kwh,
    validate_series,
)
from scheduler.errors import ForecastRejected

T0 = datetime(2026, 11, 26, tzinfo=UTC)
RULES = ValidationRules(max_bad_fraction=0.1)


def meta(step_s: int = 3600, **changes: object) -> SeriesMeta:
    base: dict[str, object] = {
        "provider": "p",
        "zone": "DE",
        "step_s": step_s,
        "generated_at": T0,
        "fetched_at": T0,
    }
    return SeriesMeta(**(base | changes))  # type: ignore[arg-type]


def raw(values: Sequence[float | None], step_s: int = 3600) -> list[RawPoint]:
    return [
        RawPoint(start=T0 + timedelta(seconds=step_s * i), g_per_kwh=v)
        for i, v in enumerate(values)
    ]


good_values = st.lists(st.floats(min_value=0, max_value=2500), min_size=1, max_size=200)
bad_values = st.sampled_from([None, math.nan, math.inf, -math.inf, -1.0, 2500.5, -3.0, 1e9])


@given(values=good_values, step_s=st.sampled_from([300, 900, 1800, 3600]))
def test_valid_series_pass_unchanged_with_complete_provenance(
    values: list[float], step_s: int
) -> None:
    """Any in-range series on its step validates to the same values and a full provenance."""
    forecast = validate_series(raw(values, step_s), meta=meta(step_s), rules=RULES)
    assert [p.g_per_kwh for p in forecast.points] == values
    assert forecast.provenance.horizon_s == step_s * len(values)
    assert (forecast.provenance.provider, forecast.provenance.zone) == ("p", "DE")


@settings(max_examples=200)
@given(
    values=st.lists(st.floats(min_value=0, max_value=2500), min_size=20, max_size=200),
    bad=st.lists(st.tuples(st.integers(min_value=0), bad_values), min_size=1, max_size=40),
)
def test_bad_share_decides_between_repair_and_rejection(
    values: list[float], bad: list[tuple[int, float | None]]
) -> None:
    """At most max_bad_fraction bad points are repaired within their neighbours; more reject."""
    mixed: list[float | None] = list(values)
    for index, value in bad:
        mixed[index % len(mixed)] = value
    n_bad = sum(1 for v in mixed if v is None or not 0 <= v <= 2500)
    if n_bad > 0.1 * len(mixed):
        with pytest.raises(ForecastRejected, match=f"{n_bad} of {len(mixed)} points"):
            validate_series(raw(mixed), meta=meta(), rules=RULES)
        return
    forecast = validate_series(raw(mixed), meta=meta(), rules=RULES)
    out = [p.g_per_kwh for p in forecast.points]
    assert all(math.isfinite(v) and 0 <= v <= 2500 for v in out)
    good = [v for v in mixed if v is not None and 0 <= v <= 2500]
    assert min(good) <= min(out)
    assert max(out) <= max(good)
    assert f"repaired {n_bad} bad point(s) from neighbours" in forecast.provenance.notes


@given(values=good_values.filter(lambda v: len(v) >= 2), swap=st.integers(min_value=0))
def test_any_reordering_or_duplicate_is_rejected(values: list[float], swap: int) -> None:
    """Moving one timestamp onto its neighbour's makes a duplicate: always rejected."""
    points = raw(values)
    i = swap % (len(points) - 1)
    points[i + 1] = RawPoint(start=points[i].start, g_per_kwh=points[i + 1].g_per_kwh)
    with pytest.raises(ForecastRejected, match="duplicate timestamp"):
        validate_series(points, meta=meta(), rules=RULES)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([], "no data points"),
        (raw([1.0, 2.0, 3.0])[::-1], "comes after"),
        ([*raw([1.0, 2.0]), RawPoint(start=T0 + timedelta(hours=3), g_per_kwh=3.0)], "gap"),
        (raw([math.nan, 2.0]), "1 of 2 points"),
        (raw([-1.0, -1.0, 3.0]), "2 of 3 points"),
        (raw([None, None]), "2 of 2 points"),
        (raw([300.0, 3_000_000.0]), "outside 0–2500"),
    ],
    ids=["empty", "reversed", "gap", "nan", "sentinel", "nulls", "wrong-units"],
)
def test_malformed_payloads_are_rejected_with_reason(points: list[RawPoint], message: str) -> None:
    """Each malformed shape is rejected naming provider, zone and what was wrong."""
    with pytest.raises(ForecastRejected, match=rf"p: zone DE: payload rejected: .*{message}"):
        validate_series(points, meta=meta(), rules=RULES)


def test_constant_series_is_flagged_not_rejected() -> None:
    """All-identical values pass but the provenance says so."""
    forecast = validate_series(raw([870.0] * 5), meta=meta(), rules=RULES)
    assert forecast.provenance.notes == ("constant series (870 g/kWh at every step)",)


def test_generated_after_fetched_is_rejected() -> None:
    """A payload claiming to be generated an hour after it was fetched is not trusted."""
    with pytest.raises(ForecastRejected, match=r"generated_at .* is after fetched_at"):
        validate_series(raw([1.0]), meta=meta(generated_at=T0 + timedelta(hours=1)), rules=RULES)


def test_naive_timestamps_are_rejected() -> None:
    """A timestamp without offset is rejected with an example of the expected form."""
    with pytest.raises(ForecastRejected, match=r"has no timezone.*2026-11-28T08:00:00Z"):
        parse_utc("2022-05-01T14:00:00", provider="p", zone="DE", field="datetime")


def test_offsets_are_normalised_to_utc() -> None:
    """A +02:00 timestamp becomes the same instant in UTC."""
    parsed = parse_utc("2026-11-26T14:00:00+02:00", provider="p", zone="DE", field="t")
    assert parsed == datetime(2026, 11, 26, 12, tzinfo=UTC)
    assert parsed.tzinfo == UTC


def test_units_convert_and_unknown_units_reject() -> None:
    """lbs/MWh convert to g/kWh; an unknown unit names the unit and the known ones."""
    assert to_g_per_kwh(1000, "lbs_co2_per_mwh", provider="p", zone="Z") == pytest.approx(453.59237)
    assert to_g_per_kwh(0.3, "kg/kWh", provider="p", zone="Z") == pytest.approx(300.0)
    with pytest.raises(ForecastRejected, match="unknown unit 'MW'"):
        to_g_per_kwh(1, "MW", provider="p", zone="Z")
    with pytest.raises(ForecastRejected, match="must be a number"):
        to_g_per_kwh("12", "g/kWh", provider="p", zone="Z")


def test_prediction_intervals_survive_when_they_hold_their_value() -> None:
    """Intervals around a value are kept; one not containing its value is dropped and noted."""
    points = [
        RawPoint(start=T0, g_per_kwh=300.0, lower_g_per_kwh=250.0, upper_g_per_kwh=350.0),
        RawPoint(start=T0 + timedelta(hours=1), g_per_kwh=300.0, lower_g_per_kwh=310.0),
    ]
    forecast = validate_series(points, meta=meta(), rules=RULES)
    first, second = forecast.points
    assert (first.lower_g_per_kwh, first.upper_g_per_kwh) == (250.0, 350.0)
    assert (second.lower_g_per_kwh, second.upper_g_per_kwh) == (None, None)
    assert "dropped prediction intervals that did not contain their value" in (
        forecast.provenance.notes
    )
