"""GB Carbon Intensity client against recorded and documented payloads (no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses

from forecasts.ukci import UkCarbonIntensityProvider
from forecasts.validation import ValidationRules
from scheduler.clock import FakeClock
from scheduler.errors import ForecastError, ForecastUnavailable
from tests.forecasts.helpers import load, make_http

pytestmark = pytest.mark.shared
BASE = "https://api.carbonintensity.org.uk"


def provider(
    clock: FakeClock, rules: ValidationRules, **kwargs: object
) -> UkCarbonIntensityProvider:
    return UkCarbonIntensityProvider(
        http=make_http(clock, "ukci"),
        clock=clock,
        rules=rules,
        **kwargs,  # type: ignore[arg-type]
    )


@responses.activate
def test_regional_postcode_forecast_reads_data_object(
    fixtures_dir: Path, rules: ValidationRules
) -> None:
    """The real regional capture ('data' is an object) gives 48 half-hour points from 20:00."""
    payload = load(fixtures_dir, "carbonintensity_uk/regional_intensity_fw48h_postcode_BH1.json")
    responses.get(f"{BASE}/regional/intensity/2020-05-19T20:00Z/fw48h/postcode/BH1", json=payload)
    clock = FakeClock(datetime(2020, 5, 19, 20, 10, tzinfo=UTC))
    ukci = provider(clock, rules, regions={"GB-south": "BH1"})
    forecast = ukci.forecast("GB-south", clock.now(), clock.now() + timedelta(hours=48))
    assert forecast.step_s == 1800
    assert len(forecast.points) == 48
    assert forecast.points[0].start == datetime(2020, 5, 19, 20, tzinfo=UTC)
    assert forecast.points[0].g_per_kwh == payload["data"]["data"][0]["intensity"]["forecast"]
    assert forecast.provenance.zone == "GB-south"


@responses.activate
def test_regional_list_form_is_read_too(fixtures_dir: Path, rules: ValidationRules) -> None:
    """The documented form ('data' a one-element list) parses to the same points."""
    payload = load(fixtures_dir, "carbonintensity_uk/regional_intensity_fw48h_postcode_BH1.json")
    responses.get(
        f"{BASE}/regional/intensity/2020-05-19T20:00Z/fw48h/regionid/11",
        json={"data": [payload["data"]]},
    )
    clock = FakeClock(datetime(2020, 5, 19, 20, tzinfo=UTC))
    forecast = provider(clock, rules).forecast(
        "GB-11", clock.now(), clock.now() + timedelta(hours=2)
    )
    assert len(forecast.points) == 4


@responses.activate
def test_national_history_uses_actual(fixtures_dir: Path, rules: ValidationRules) -> None:
    """National observed intensity takes the 'actual' value (263, not the forecast 266)."""
    payload = load(fixtures_dir, "carbonintensity_uk/intensity_current.doc-example.json")
    responses.get(f"{BASE}/intensity/2018-01-20T12:00Z/2018-01-20T12:30Z", json=payload)
    clock = FakeClock(datetime(2018, 1, 20, 13, tzinfo=UTC))
    observed = provider(clock, rules).observed(
        "GB", datetime(2018, 1, 20, 12, tzinfo=UTC), datetime(2018, 1, 20, 12, 30, tzinfo=UTC)
    )
    assert [p.g_per_kwh for p in observed.points] == [263.0]


@responses.activate
def test_server_error_is_transient(
    fixtures_dir: Path, clock: FakeClock, rules: ValidationRules
) -> None:
    """The documented 500 body becomes ForecastUnavailable after the retries."""
    body = load(fixtures_dir, "carbonintensity_uk/error_500.doc-example.json")
    responses.get(f"{BASE}/intensity/2026-11-26T12:00Z/fw48h", status=500, json=body)
    with pytest.raises(ForecastUnavailable, match="ukci: zone GB: HTTP 500"):
        provider(clock, rules).forecast("GB", clock.now(), clock.now() + timedelta(hours=1))


def test_unknown_zone_is_permanent(clock: FakeClock, rules: ValidationRules) -> None:
    """A zone that is neither GB, GB-1…17 nor mapped fails without a request."""
    with pytest.raises(ForecastError, match="unknown zone 'DE'"):
        provider(clock, rules).forecast("DE", clock.now(), clock.now() + timedelta(hours=1))
