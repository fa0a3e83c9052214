"""Carbon Aware SDK WebAPI client (no network).

The SDK's docs hold no valid forecast response, so that payload is written here by hand in the
shape of the WebAPI's ``EmissionsForecastDTO`` (see ../shared/fixtures/carbon_aware_sdk/README).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses

from forecasts.carbon_aware_sdk import CarbonAwareSdkProvider
from forecasts.validation import ValidationRules
from scheduler.clock import FakeClock
from scheduler.errors import ForecastRejected
from tests.forecasts.helpers import load, make_http

BASE = "http://casdk.local:8090"
T0 = datetime(2022, 6, 1, 14, tzinfo=UTC)


def forecast_dto(values: list[Any]) -> list[dict[str, Any]]:
    """An EmissionsForecastDTO answer with 5-minute points."""
    points = [
        {
            "location": "eastus",
            "timestamp": (T0 + timedelta(minutes=5 * i)).isoformat().replace("+00:00", "Z"),
            "duration": 5,
            "value": value,
        }
        for i, value in enumerate(values)
    ]
    return [
        {
            "generatedAt": "2022-06-01T13:55:00Z",
            "requestedAt": "2022-06-01T13:56:00Z",
            "location": "eastus",
            "dataStartAt": "2022-06-01T14:00:00Z",
            "dataEndAt": "2022-06-01T15:00:00Z",
            "windowSize": 5,
            "optimalDataPoints": [points[0]],
            "forecastData": points,
        }
    ]


def provider(clock: FakeClock, rules: ValidationRules) -> CarbonAwareSdkProvider:
    return CarbonAwareSdkProvider(
        base_url=BASE, http=make_http(clock, "carbon-aware-sdk"), clock=clock, rules=rules
    )


@responses.activate
def test_forecast_reads_forecast_data_with_duration_step(rules: ValidationRules) -> None:
    """forecastData with duration 5 becomes a 300 s series, generatedAt in provenance."""
    responses.get(f"{BASE}/emissions/forecasts/current", json=forecast_dto([410.5, 400.0, 395.25]))
    clock = FakeClock(T0)
    forecast = provider(clock, rules).forecast("eastus", T0, T0 + timedelta(hours=1))
    assert forecast.step_s == 300
    assert [p.g_per_kwh for p in forecast.points] == [410.5, 400.0, 395.25]
    assert forecast.provenance.generated_at == datetime(2022, 6, 1, 13, 55, tzinfo=UTC)
    assert forecast.provenance.signal == "marginal"
    assert responses.calls[0].request.params["location"] == "eastus"


@responses.activate
def test_nan_like_and_sentinel_values_reject_the_payload(rules: ValidationRules) -> None:
    """Two sentinel -1 values out of three exceed the bad-point share: rejected."""
    responses.get(f"{BASE}/emissions/forecasts/current", json=forecast_dto([-1, 400.0, -1]))
    clock = FakeClock(T0)
    with pytest.raises(ForecastRejected, match="2 of 3 points"):
        provider(clock, rules).forecast("eastus", T0, T0 + timedelta(hours=1))


@pytest.mark.shared
@responses.activate
def test_best_location_picks_lowest_rating(fixtures_dir: Path, rules: ValidationRules) -> None:
    """/emissions/bylocations/best returns the location with the lowest rating."""
    doc = load(fixtures_dir, "carbon_aware_sdk/emissions_bylocation_response.doc-example.json")
    other = dict(doc[0], location="westus", rating=35.5)
    responses.get(f"{BASE}/emissions/bylocations/best", json=[doc[0], other])
    clock = FakeClock(datetime(2022, 5, 17, 21, tzinfo=UTC))
    best = provider(clock, rules).best_location(
        ["eastus", "westus"], clock.now() - timedelta(hours=1), clock.now()
    )
    assert (best.zone, best.g_per_kwh) == ("westus", 35.5)
    assert responses.calls[0].request.params["location"] == ["eastus", "westus"]


@responses.activate
def test_history_infers_step_from_times(rules: ValidationRules) -> None:
    """bylocation points without 'duration' take their step from consecutive times."""
    body = [
        {"location": "eastus", "time": "2022-05-17T20:00:00+00:00", "rating": 70},
        {"location": "eastus", "time": "2022-05-17T20:05:00+00:00", "rating": 72},
    ]
    responses.get(f"{BASE}/emissions/bylocation", json=body)
    clock = FakeClock(datetime(2022, 5, 17, 21, tzinfo=UTC))
    observed = provider(clock, rules).observed(
        "eastus", datetime(2022, 5, 17, 20, tzinfo=UTC), datetime(2022, 5, 17, 20, 10, tzinfo=UTC)
    )
    assert observed.step_s == 300
    assert [p.g_per_kwh for p in observed.points] == [70.0, 72.0]
