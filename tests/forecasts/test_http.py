"""The shared HTTP client: retries, backoff, Retry-After, budget, error translation."""

from __future__ import annotations

import random

import pytest
import requests
import responses

from forecasts.http import HttpClient, HttpPolicy
from scheduler.clock import FakeClock
from scheduler.errors import ForecastError, ForecastRejected, ForecastUnavailable

URL = "https://api.example.test/v3/forecast"


class Sleeps:
    """Records the waits the client asks for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(clock: FakeClock, sleeps: Sleeps, **policy: float) -> HttpClient:
    return HttpClient(
        provider="example",
        clock=clock,
        session=requests.Session(),
        policy=HttpPolicy(**policy),  # type: ignore[arg-type]
        sleep=sleeps,
        rng=random.Random(7),
        secrets=("s3cret-key",),
    )


@responses.activate
def test_retries_5xx_with_growing_jittered_backoff_then_succeeds(clock: FakeClock) -> None:
    """Two 503s are retried with full-jitter waits under base×2^n; the third answer counts."""
    responses.get(URL, status=503)
    responses.get(URL, status=502)
    responses.get(URL, json={"ok": 1})
    sleeps = Sleeps()
    body = client(clock, sleeps, backoff_base_s=1.0).get_json(URL, zone="DE")
    assert body == {"ok": 1}
    assert len(sleeps.waits) == 2
    assert 0 <= sleeps.waits[0] <= 1.0
    assert 0 <= sleeps.waits[1] <= 2.0
    assert len(responses.calls) == 3


@responses.activate
def test_honours_retry_after_seconds_on_429(clock: FakeClock) -> None:
    """A 429 with Retry-After: 7 waits exactly 7 s before the next try."""
    responses.get(URL, status=429, headers={"Retry-After": "7"})
    responses.get(URL, json=[1])
    sleeps = Sleeps()
    assert client(clock, sleeps).get_json(URL, zone="DE") == [1]
    assert sleeps.waits == [7.0]


@responses.activate
def test_retry_after_longer_than_max_backoff_gives_up_at_once(clock: FakeClock) -> None:
    """Asked to wait longer than backoff_max_s, the client reports unavailable without sleeping."""
    responses.get(URL, status=429, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    with pytest.raises(ForecastUnavailable, match=r"example: zone DE: HTTP 429.*3600 s"):
        client(clock, sleeps, backoff_max_s=30.0).get_json(URL, zone="DE")
    assert sleeps.waits == []


@responses.activate
def test_persistent_5xx_is_unavailable_with_status_and_zone(clock: FakeClock) -> None:
    """After max_attempts 500s the error is transient and names provider, zone and status."""
    responses.get(URL, status=500, body="upstream broke")
    with pytest.raises(ForecastUnavailable, match=r"example: zone FR: HTTP 500 after 3 tries"):
        client(clock, Sleeps(), max_attempts=3).get_json(URL, zone="FR")
    assert len(responses.calls) == 3


@responses.activate
def test_timeouts_are_retried_then_unavailable(clock: FakeClock) -> None:
    """Connection faults are transient: retried, then ForecastUnavailable."""
    responses.get(URL, body=requests.ConnectTimeout("slow"))
    with pytest.raises(ForecastUnavailable, match="no answer after 2 tries"):
        client(clock, Sleeps(), max_attempts=2).get_json(URL, zone="DE")


@pytest.mark.parametrize(
    ("status", "hint"),
    [(401, "credentials"), (403, "plan"), (404, "zone id"), (400, "zone id")],
)
@responses.activate
def test_client_errors_are_permanent_and_never_retried(
    clock: FakeClock, status: int, hint: str
) -> None:
    """4xx answers are permanent ForecastErrors (not Unavailable), with a hint for the fix."""
    responses.get(URL, status=status, json={"message": "nope"})
    with pytest.raises(ForecastError, match=rf"HTTP {status}.*{hint}") as caught:
        client(clock, Sleeps()).get_json(URL, zone="XX")
    assert not isinstance(caught.value, ForecastUnavailable)
    assert len(responses.calls) == 1


@responses.activate
def test_secrets_never_appear_in_errors(clock: FakeClock) -> None:
    """A provider echoing the key in its error body has it replaced by ***."""
    responses.get(URL, status=401, body="invalid token s3cret-key")
    with pytest.raises(ForecastError) as caught:
        client(clock, Sleeps()).get_json(URL, zone="DE")
    assert "s3cret-key" not in str(caught.value)
    assert "***" in str(caught.value)


@pytest.mark.parametrize("body", ["", "   ", "<html>maintenance</html>"])
@responses.activate
def test_empty_or_non_json_200_is_rejected(clock: FakeClock, body: str) -> None:
    """HTTP 200 with an empty or non-JSON body is a rejected payload."""
    responses.get(URL, body=body, status=200)
    with pytest.raises(ForecastRejected, match="HTTP 200"):
        client(clock, Sleeps()).get_json(URL, zone="DE")


@responses.activate
def test_budget_counts_retries_and_resets_after_window(clock: FakeClock) -> None:
    """With 3 requests per hour, the 4th is refused without calling; an hour later it goes."""
    responses.get(URL, json={})
    http = client(clock, Sleeps(), budget_requests=3, budget_window_s=3600)
    for _ in range(3):
        http.get_json(URL, zone="DE")
    assert http.requests_used() == 3
    with pytest.raises(ForecastUnavailable, match="budget of 3 per 3600 s is spent"):
        http.get_json(URL, zone="DE")
    assert len(responses.calls) == 3
    clock.advance(3601)
    assert http.requests_used() == 0
    assert http.get_json(URL, zone="DE") == {}


@responses.activate
def test_unauthorized_calls_reauth_once_with_fresh_headers(clock: FakeClock) -> None:
    """A 401 with on_unauthorized retries once with the headers it returns."""
    responses.get(URL, status=401)
    responses.get(URL, json={"fresh": True})
    body = client(clock, Sleeps()).get_json(
        URL,
        zone="DE",
        headers={"Authorization": "Bearer old"},
        on_unauthorized=lambda: {"Authorization": "Bearer new"},
    )
    assert body == {"fresh": True}
    assert responses.calls[1].request.headers["Authorization"] == "Bearer new"


@responses.activate
def test_timeouts_are_passed_to_the_session(clock: FakeClock) -> None:
    """Every request carries the configured (connect, read) timeouts."""
    seen: list[object] = []

    class Recording(requests.Session):
        def get(self, url: str | bytes, **kwargs: object) -> requests.Response:
            seen.append(kwargs["timeout"])
            return super().get(url, **kwargs)  # type: ignore[arg-type]

    responses.get(URL, json={})
    http = HttpClient(
        provider="example",
        clock=clock,
        session=Recording(),
        policy=HttpPolicy(connect_timeout_s=2.0, read_timeout_s=9.0),
    )
    http.get_json(URL, zone="DE")
    assert seen == [(2.0, 9.0)]
