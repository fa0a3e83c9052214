"""Electricity Maps v3 client against recorded payloads (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses
from requests import PreparedRequest

from forecasts.electricitymaps import ElectricityMapsProvider
from forecasts.validation import ValidationRules
from scheduler.clock import FakeClock
from scheduler.errors import ForecastError, ForecastRejected, ForecastUnavailable
from tests.forecasts.helpers import load, make_http

pytestmark = pytest.mark.shared
BASE = "https://api.electricitymaps.com/v3"
KEY = "em-token-123"


def provider(clock: FakeClock, rules: ValidationRules) -> ElectricityMapsProvider:
    return ElectricityMapsProvider(
        api_key=KEY, http=make_http(clock, "electricitymaps"), clock=clock, rules=rules
    )


@responses.activate
def test_forecast_parses_48_hourly_points_with_provenance(
    fixtures_dir: Path, rules: ValidationRules
) -> None:
    """The DE forecast is hourly from 20:00, first value 557, sent with the auth-token header."""
    payload = load(fixtures_dir, "electricitymaps/carbon-intensity_forecast_DE.json")
    responses.get(f"{BASE}/carbon-intensity/forecast", json=payload)
    clock = FakeClock(datetime(2023, 5, 2, 20, 5, tzinfo=UTC))
    start = clock.now()
    forecast = provider(clock, rules).forecast("DE", start, start + timedelta(hours=72))
    assert responses.calls[0].request.headers["auth-token"] == KEY
    assert forecast.step_s == 3600
    assert len(forecast.points) == len(payload["forecast"])
    assert forecast.points[0].start == datetime(2023, 5, 2, 20, tzinfo=UTC)
    assert forecast.points[0].g_per_kwh == payload["forecast"][0]["carbonIntensity"]
    prov = forecast.provenance
    assert (prov.provider, prov.zone, prov.signal, prov.fallback) == (
        "electricitymaps",
        "DE",
        "average",
        False,
    )
    assert prov.generated_at == datetime(2023, 5, 2, 19, 52, 9, 141000, tzinfo=UTC)
    assert prov.fetched_at == clock.now()
    assert forecast.end is not None
    reach = forecast.end - prov.generated_at
    assert prov.horizon_s == int(reach.total_seconds())


@responses.activate
def test_forecast_is_clipped_to_the_window(fixtures_dir: Path, rules: ValidationRules) -> None:
    """Asking for 6 hours returns the 6 hourly points of that window."""
    payload = load(fixtures_dir, "electricitymaps/carbon-intensity_forecast_DE.json")
    responses.get(f"{BASE}/carbon-intensity/forecast", json=payload)
    clock = FakeClock(datetime(2023, 5, 2, 21, tzinfo=UTC))
    forecast = provider(clock, rules).forecast(
        "DE", datetime(2023, 5, 3, 0, 30, tzinfo=UTC), datetime(2023, 5, 3, 6, tzinfo=UTC)
    )
    assert [p.start.hour for p in forecast.points] == [0, 1, 2, 3, 4, 5]


@responses.activate
def test_history_for_the_last_day(fixtures_dir: Path, rules: ValidationRules) -> None:
    """Observed intensity within 24 h comes from /history: 24 hourly points."""
    payload = load(fixtures_dir, "electricitymaps/carbon-intensity_history_DE.json")
    responses.get(f"{BASE}/carbon-intensity/history", json=payload)
    clock = FakeClock(datetime(2024, 3, 6, 20, tzinfo=UTC))
    observed = provider(clock, rules).observed("DE", clock.now() - timedelta(hours=24), clock.now())
    assert len(observed.points) == 24
    assert observed.points[0].g_per_kwh == payload["history"][0]["carbonIntensity"]


@responses.activate
def test_past_range_reads_data_key_and_sends_the_range(
    fixtures_dir: Path, rules: ValidationRules
) -> None:
    """Older ranges use /past-range (list under 'data') with start and end parameters."""
    payload = load(fixtures_dir, "electricitymaps/carbon-intensity_past-range_DK-DK2.json")
    responses.get(f"{BASE}/carbon-intensity/past-range", json=payload)
    clock = FakeClock(datetime(2025, 1, 1, tzinfo=UTC))
    start, end = datetime(2024, 3, 18, 2, tzinfo=UTC), datetime(2024, 3, 18, 4, tzinfo=UTC)
    observed = provider(clock, rules).observed("DK-DK2", start, end)
    assert [p.g_per_kwh for p in observed.points] == [161.0, 167.0]
    params = responses.calls[0].request.params
    assert (params["start"], params["end"]) == ("2024-03-18T02:00:00Z", "2024-03-18T04:00:00Z")


@responses.activate
def test_latest_is_a_single_point(fixtures_dir: Path, rules: ValidationRules) -> None:
    """/latest becomes a one-point series for its hour."""
    payload = load(fixtures_dir, "electricitymaps/carbon-intensity_latest_US-CAR-DUK.json")
    responses.get(f"{BASE}/carbon-intensity/latest", json=payload)
    clock = FakeClock(datetime(2024, 3, 6, 19, 30, tzinfo=UTC))
    latest = provider(clock, rules).latest("US-CAR-DUK")
    assert [(p.start.hour, p.g_per_kwh) for p in latest.points] == [(19, 216.0)]


@responses.activate
def test_empty_object_is_rejected(clock: FakeClock, rules: ValidationRules) -> None:
    """HTTP 200 with {} names the missing key and never becomes a forecast."""
    responses.get(f"{BASE}/carbon-intensity/forecast", json={})
    with pytest.raises(ForecastRejected, match="no 'forecast' list"):
        provider(clock, rules).forecast("DE", clock.now(), clock.now() + timedelta(hours=1))


@responses.activate
def test_unknown_zone_is_permanent(clock: FakeClock, rules: ValidationRules) -> None:
    """A 404 naming the zone is a permanent ForecastError, not a transient one."""
    responses.get(
        f"{BASE}/carbon-intensity/forecast",
        status=404,
        json={"status": "error", "message": "Zone 'XX' does not exist."},
    )
    with pytest.raises(ForecastError, match="HTTP 404") as caught:
        provider(clock, rules).forecast("XX", clock.now(), clock.now() + timedelta(hours=1))
    assert not isinstance(caught.value, ForecastUnavailable)


@responses.activate
def test_forecast_entirely_in_the_past_is_unavailable(
    fixtures_dir: Path, rules: ValidationRules
) -> None:
    """A forecast that ends before the window starts covers nothing: the next provider fills in."""
    payload = load(fixtures_dir, "electricitymaps/carbon-intensity_forecast_DE.json")
    responses.get(f"{BASE}/carbon-intensity/forecast", json=payload)
    clock = FakeClock(datetime(2023, 5, 10, tzinfo=UTC))
    with pytest.raises(ForecastUnavailable, match="covers"):
        provider(clock, rules).forecast("DE", clock.now(), clock.now() + timedelta(hours=4))


@responses.activate
def test_long_past_range_is_split_into_ten_day_requests(rules: ValidationRules) -> None:
    """25 days of history take three past-range requests, joined into one hourly series."""
    start = datetime(2024, 1, 1, tzinfo=UTC)

    def day_range(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        params = request.params  # type: ignore[attr-defined]
        first = datetime.fromisoformat(params["start"])
        last = datetime.fromisoformat(params["end"])
        hours = int((last - first).total_seconds() // 3600)
        data = [
            {"datetime": (first + timedelta(hours=h)).isoformat(), "carbonIntensity": 100 + h % 24}
            for h in range(hours)
        ]
        return 200, {}, json.dumps({"zone": "DE", "data": data})

    responses.add_callback(responses.GET, f"{BASE}/carbon-intensity/past-range", day_range)
    clock = FakeClock(datetime(2024, 3, 1, tzinfo=UTC))
    observed = provider(clock, rules).observed("DE", start, start + timedelta(days=25))
    assert len(responses.calls) == 3
    assert len(observed.points) == 25 * 24
    assert observed.points[-1].start == start + timedelta(days=25, hours=-1)
