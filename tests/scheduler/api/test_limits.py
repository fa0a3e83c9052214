"""The per-token submission limiter: a token bucket on the injected clock."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from scheduler.api.limits import SubmitRateLimiter
from scheduler.clock import FakeClock
from tests.scheduler.api.conftest import NOW


@given(
    per_minute=st.integers(1, 120),
    steps_ms=st.lists(st.integers(0, 5_000), min_size=1, max_size=300),
)
def test_never_more_than_the_burst_plus_the_refill(per_minute: int, steps_ms: list[int]) -> None:
    """Over any request pattern, grants ≤ per_minute + per_minute × elapsed minutes."""
    clock = FakeClock(NOW)
    limiter = SubmitRateLimiter(per_minute, clock=clock)
    granted = 0
    for step in steps_ms:
        clock.advance(timedelta(milliseconds=step))
        granted += limiter.acquire("token") is None
    elapsed_min = sum(steps_ms) / 60_000
    assert granted <= per_minute + per_minute * elapsed_min + 1e-9


@given(per_minute=st.integers(1, 120))
def test_waiting_retry_after_seconds_is_enough(per_minute: int) -> None:
    """After a refusal, waiting the advised seconds always lets the next submission through."""
    clock = FakeClock(NOW)
    limiter = SubmitRateLimiter(per_minute, clock=clock)
    for _ in range(per_minute):
        assert limiter.acquire("token") is None
    wait_s = limiter.acquire("token")
    assert wait_s is not None
    assert wait_s >= 1
    clock.advance(timedelta(seconds=wait_s))
    assert limiter.acquire("token") is None
    assert limiter.acquire("other") is None
