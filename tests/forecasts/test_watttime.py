"""WattTime v3 client against the documented payloads (no network)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses

from forecasts.validation import ValidationRules
from forecasts.watttime import WattTimeProvider
from scheduler.clock import FakeClock
from scheduler.errors import ForecastError, ForecastRejected
from tests.forecasts.helpers import load, make_http

pytestmark = pytest.mark.shared
BASE = "https://api.watttime.org"
LBS_TO_G = 0.45359237


def provider(clock: FakeClock, rules: ValidationRules) -> WattTimeProvider:
    return WattTimeProvider(
        username="ada",
        password="pw-secret",
        http=make_http(clock, "watttime"),
        clock=clock,
        rules=rules,
    )


@pytest.fixture
def wt_clock() -> FakeClock:
    """Just after the example forecast was generated."""
    return FakeClock(datetime(2022, 7, 15, 0, 1, tzinfo=UTC))


def mock_login(fixtures_dir: Path) -> None:
    body = load(fixtures_dir, "watttime/login_response.json")
    responses.get(f"{BASE}/login", json=body)


@responses.activate
def test_forecast_logs_in_converts_units_and_marks_marginal(
    fixtures_dir: Path, wt_clock: FakeClock, rules: ValidationRules
) -> None:
    """Basic-auth login, bearer token on the data call, 870 lbs/MWh → 394.6 g/kWh, marginal."""
    mock_login(fixtures_dir)
    responses.get(
        f"{BASE}/v3/forecast", json=load(fixtures_dir, "watttime/v3_forecast_response.json")
    )
    start = datetime(2022, 7, 15, tzinfo=UTC)
    forecast = provider(wt_clock, rules).forecast("CAISO_NORTH", start, start + timedelta(hours=24))
    expected_basic = "Basic " + base64.b64encode(b"ada:pw-secret").decode()
    assert responses.calls[0].request.headers["Authorization"] == expected_basic
    assert responses.calls[1].request.headers["Authorization"] == "Bearer abcdef0123456789fedcabc"
    assert responses.calls[1].request.params["signal_type"] == "co2_moer"
    assert forecast.step_s == 300
    assert len(forecast.points) == 288
    assert forecast.points[0].g_per_kwh == pytest.approx(870 * LBS_TO_G)
    assert forecast.provenance.signal == "marginal"
    assert any("constant series" in note for note in forecast.provenance.notes)


@responses.activate
def test_token_is_reused_then_renewed_before_expiry(
    fixtures_dir: Path, wt_clock: FakeClock, rules: ValidationRules
) -> None:
    """One login serves calls for 25 min; after that the next call logs in again first."""
    mock_login(fixtures_dir)
    payload = load(fixtures_dir, "watttime/v3_historical_response.json")
    responses.get(f"{BASE}/v3/historical", json=payload)
    wt = provider(wt_clock, rules)
    start, end = datetime(2022, 7, 15, tzinfo=UTC), datetime(2022, 7, 15, 0, 10, tzinfo=UTC)
    wt.observed("CAISO_NORTH", start, end)
    wt_clock.advance(timedelta(minutes=20))
    wt.observed("CAISO_NORTH", start, end)
    logins = [c for c in responses.calls if c.request.url.startswith(f"{BASE}/login")]
    assert len(logins) == 1
    wt_clock.advance(timedelta(minutes=6))
    wt.observed("CAISO_NORTH", start, end)
    logins = [c for c in responses.calls if c.request.url.startswith(f"{BASE}/login")]
    assert len(logins) == 2


@responses.activate
def test_unexpected_401_logs_in_again_once(
    fixtures_dir: Path, wt_clock: FakeClock, rules: ValidationRules
) -> None:
    """A token revoked early: the 401 triggers one re-login and the call succeeds."""
    mock_login(fixtures_dir)
    responses.get(f"{BASE}/v3/historical", status=401)
    responses.get(
        f"{BASE}/v3/historical", json=load(fixtures_dir, "watttime/v3_historical_response.json")
    )
    start = datetime(2022, 7, 15, tzinfo=UTC)
    observed = provider(wt_clock, rules).observed(
        "CAISO_NORTH", start, start + timedelta(minutes=10)
    )
    assert [p.g_per_kwh for p in observed.points] == pytest.approx([870 * LBS_TO_G, 860 * LBS_TO_G])


@responses.activate
def test_bad_password_is_permanent_and_secret_free(
    fixtures_dir: Path, wt_clock: FakeClock, rules: ValidationRules
) -> None:
    """A refused login is a permanent error that does not echo the password."""
    responses.get(
        f"{BASE}/login", status=403, json=load(fixtures_dir, "watttime/error_response.json")
    )
    with pytest.raises(ForecastError, match="HTTP 403") as caught:
        provider(wt_clock, rules).forecast(
            "CAISO_NORTH", wt_clock.now(), wt_clock.now() + timedelta(hours=1)
        )
    assert "pw-secret" not in str(caught.value)


@responses.activate
def test_wrong_units_are_rejected(
    fixtures_dir: Path, wt_clock: FakeClock, rules: ValidationRules
) -> None:
    """A payload in an unknown unit (percent) is rejected naming the unit."""
    mock_login(fixtures_dir)
    payload = load(fixtures_dir, "watttime/v3_forecast_response.json")
    payload["meta"]["units"] = "percent"
    responses.get(f"{BASE}/v3/forecast", json=payload)
    with pytest.raises(ForecastRejected, match="unknown unit 'percent'"):
        provider(wt_clock, rules).forecast(
            "CAISO_NORTH", wt_clock.now(), wt_clock.now() + timedelta(hours=1)
        )


@responses.activate
def test_answer_for_another_region_is_rejected(
    fixtures_dir: Path, wt_clock: FakeClock, rules: ValidationRules
) -> None:
    """Data for CAISO_NORTH never pass as data for another region."""
    mock_login(fixtures_dir)
    responses.get(
        f"{BASE}/v3/forecast", json=load(fixtures_dir, "watttime/v3_forecast_response.json")
    )
    with pytest.raises(ForecastRejected, match="region 'CAISO_NORTH', not 'PJM_DC'"):
        provider(wt_clock, rules).forecast(
            "PJM_DC", wt_clock.now(), wt_clock.now() + timedelta(hours=1)
        )
