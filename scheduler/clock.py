"""Clocks: the only source of "now" in carbonshift.

Nothing in the core calls ``datetime.now()``; it asks an injected ``Clock``. Tests and the
simulator use ``FakeClock`` and advance it explicitly instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from scheduler.model import ensure_utc


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to; safe to share between threads."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start, "start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current fake time."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by ``delta`` (a timedelta or seconds) and return the new time."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError(f"a clock only moves forward; got a step of {step}")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when``, which must not be earlier than the current time."""
        target = ensure_utc(when, "when")
        with self._lock:
            if target < self._now:
                raise ValueError(
                    f"a clock only moves forward; {target.isoformat()} is before "
                    f"{self._now.isoformat()}"
                )
            self._now = target
