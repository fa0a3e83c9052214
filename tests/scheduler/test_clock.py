"""Clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler import FakeClock, SystemClock


def test_system_clock_is_aware_utc() -> None:
    """The system clock never returns a naive datetime."""
    assert SystemClock().now().tzinfo == UTC


def test_fake_clock_moves_only_when_advanced(clock: FakeClock) -> None:
    """A fake clock stays put until advanced, by a timedelta or by seconds."""
    start = clock.now()
    assert clock.now() == start
    assert clock.advance(timedelta(minutes=5)) == start + timedelta(minutes=5)
    assert clock.advance(30) == start + timedelta(minutes=5, seconds=30)


def test_fake_clock_never_goes_backwards(clock: FakeClock) -> None:
    """Negative steps and jumps into the past are errors."""
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.set(clock.now() - timedelta(seconds=1))


def test_fake_clock_rejects_naive_start() -> None:
    """A naive start time is refused with the usual timezone message."""
    with pytest.raises(ValueError, match="must include a timezone"):
        FakeClock(datetime(2026, 1, 1))  # noqa: DTZ001
