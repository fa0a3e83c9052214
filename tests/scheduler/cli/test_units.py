"""The CLI's unit parsing: durations, deadlines, power and energy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.cli.units import (
    UnitError,
    parse_deadline,
    parse_duration_s,
    parse_energy_kwh,
    parse_power_w,
    parse_zones,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@given(
    days=st.integers(0, 30),
    hours=st.integers(0, 48),
    minutes=st.integers(0, 300),
    seconds=st.integers(0, 5000),
)
def test_duration_parts_add_up(days: int, hours: int, minutes: int, seconds: int) -> None:
    """A duration written as d/h/m/s parts is the sum of its parts, in any order of units."""
    expected = days * 86_400 + hours * 3_600 + minutes * 60 + seconds
    text = f"{days}d{hours}h{minutes}m{seconds}s"
    if expected == 0:
        with pytest.raises(UnitError):
            parse_duration_s(text)
    else:
        assert parse_duration_s(text) == expected


@pytest.mark.parametrize(
    ("text", "seconds"), [("6h", 21_600), ("90m", 5_400), ("1.5h", 5_400), (" 2d ", 172_800)]
)
def test_common_durations(text: str, seconds: int) -> None:
    """The forms shown in the docs parse to seconds."""
    assert parse_duration_s(text) == seconds


@given(st.text(max_size=12))
def test_duration_garbage_is_a_unit_error_with_an_example(text: str) -> None:
    """Any text either parses to a positive duration or fails with an accepted form shown."""
    try:
        seconds: int | str = parse_duration_s(text)
    except UnitError as exc:
        seconds = str(exc)
    if isinstance(seconds, int):
        assert seconds > 0
    else:
        assert "6h" in seconds
        assert "\n" not in seconds


@pytest.mark.parametrize("text", ["6", "h", "6x", "-6h", "6h-", "6hh", ""])
def test_bad_durations(text: str) -> None:
    """Numbers without units, unknown units and signs are rejected."""
    with pytest.raises(UnitError, match=r"e\.g\. 6h"):
        parse_duration_s(text)


@given(hours=st.integers(1, 24 * 30))
def test_relative_deadline_is_now_plus_duration(hours: int) -> None:
    """``+Nh`` is now plus N hours, in UTC."""
    assert parse_deadline(f"+{hours}h", now=NOW) == NOW + timedelta(hours=hours)


@given(moment=st.datetimes(timezones=st.just(UTC)).filter(lambda d: d.year > 1))
def test_absolute_deadline_round_trips(moment: datetime) -> None:
    """An ISO time with a zone parses to the same instant."""
    assert parse_deadline(moment.isoformat(), now=NOW) == moment


def test_absolute_deadline_with_z_and_offset() -> None:
    """``Z`` and numeric offsets are accepted and normalised to UTC."""
    assert parse_deadline("2026-11-28T08:00Z", now=NOW) == datetime(2026, 11, 28, 8, tzinfo=UTC)
    assert parse_deadline("2026-11-28T09:00+01:00", now=NOW) == datetime(
        2026, 11, 28, 8, tzinfo=UTC
    )


@pytest.mark.parametrize("text", ["2026-11-28T08:00", "tomorrow", "+soon", "+"])
def test_bad_deadlines_show_both_forms(text: str) -> None:
    """A naive or unreadable deadline fails naming an accepted absolute form."""
    with pytest.raises(UnitError, match=r"2026-11-28T08:00Z"):
        parse_deadline(text, now=NOW)


@given(watts=st.integers(1, 5000))
def test_power_units(watts: int) -> None:
    """Watts and kilowatts are the same quantity; a bare number means watts."""
    assert parse_power_w(f"{watts}W") == watts
    assert parse_power_w(str(watts)) == watts
    assert parse_power_w(f"{watts / 1000}kW") == pytest.approx(watts)


@given(wh=st.integers(1, 10**7))
def test_energy_units(wh: int) -> None:
    """Wh, kWh and MWh convert to kWh; a bare number means kWh."""
    assert parse_energy_kwh(f"{wh}Wh") == pytest.approx(wh / 1000)
    assert parse_energy_kwh(f"{wh}kWh") == wh
    assert parse_energy_kwh(f"{wh}MWh") == pytest.approx(wh * 1000)


@pytest.mark.parametrize(("parse", "text"), [(parse_power_w, "250J"), (parse_energy_kwh, "0kWh")])
def test_bad_power_and_energy(parse: object, text: str) -> None:
    """Unknown units and zero are rejected with an example."""
    with pytest.raises(UnitError, match=r"e\.g\."):
        parse(text)  # type: ignore[operator]


def test_zones() -> None:
    """Comma-separated zones, blanks ignored; nothing at all is an error."""
    assert parse_zones("DE, FR,,GB") == ("DE", "FR", "GB")
    with pytest.raises(UnitError):
        parse_zones(" , ")
