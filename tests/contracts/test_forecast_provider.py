"""Contract of ``ForecastProvider`` (and ``IntensityHistory`` where offered), run over every
provider: the HTTP clients against the recorded payloads in ../shared/fixtures (served by
``responses``, no network), the static provider and trace replay."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses

from forecasts.carbon_aware_sdk import CarbonAwareSdkProvider
from forecasts.electricitymaps import ElectricityMapsProvider
from forecasts.static import StaticProvider
from forecasts.trace_replay import TraceReplayProvider
from forecasts.ukci import UkCarbonIntensityProvider
from forecasts.validation import ValidationRules, validate_forecast
from forecasts.watttime import WattTimeProvider
from scheduler.clock import FakeClock
from scheduler.errors import ForecastError, ForecastRejected, ForecastUnavailable
from scheduler.protocols import ForecastProvider, IntensityHistory
from tests.conftest import SHARED
from tests.forecasts.helpers import load, make_http

FIXTURES = SHARED / "fixtures"
RULES = ValidationRules()
EM = "https://api.electricitymaps.com/v3"
WT = "https://api.watttime.org"
UK = "https://api.carbonintensity.org.uk"
CA = "http://casdk.local"


@dataclass(frozen=True, kw_only=True)
class Case:
    """One provider set up against its fixtures: zone, window and the data endpoint."""

    name: str
    build: Callable[[FakeClock, Path], ForecastProvider]
    now: datetime
    zone: str
    start: datetime
    end: datetime
    serve: Callable[[responses.RequestsMock], None] = lambda _r: None
    data_url: str | None = None  # the forecast endpoint, for the HTTP-only contract
    history: tuple[datetime, datetime]
    history_zone: str = ""  # when the history fixture is for another zone than the forecast


def _em_serve(rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{EM}/carbon-intensity/forecast",
        json=load(FIXTURES, "electricitymaps/carbon-intensity_forecast_DE.json"),
    )
    rsps.get(
        f"{EM}/carbon-intensity/history",
        json=load(FIXTURES, "electricitymaps/carbon-intensity_history_DE.json"),
    )


def _wt_serve(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{WT}/login", json=load(FIXTURES, "watttime/login_response.json"))
    rsps.get(f"{WT}/v3/forecast", json=load(FIXTURES, "watttime/v3_forecast_response.json"))
    rsps.get(f"{WT}/v3/historical", json=load(FIXTURES, "watttime/v3_historical_response.json"))


def _uk_serve(rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{UK}/intensity/2018-01-20T12:00Z/2018-01-20T12:30Z",
        json=load(FIXTURES, "carbonintensity_uk/intensity_current.doc-example.json"),
    )
    rsps.get(
        f"{UK}/regional/intensity/2020-05-19T20:00Z/fw48h/regionid/11",
        json=load(FIXTURES, "carbonintensity_uk/regional_intensity_fw48h_postcode_BH1.json"),
    )


def _ca_body() -> list[dict[str, Any]]:
    t0 = datetime(2022, 6, 1, 14, tzinfo=UTC)
    points = [
        {
            "location": "eastus",
            "timestamp": (t0 + timedelta(minutes=5 * i)).isoformat(),
            "duration": 5,
            "value": 400.0 + i,
        }
        for i in range(24)
    ]
    return [
        {
            "generatedAt": "2022-06-01T13:55:00Z",
            "location": "eastus",
            "optimalDataPoints": points[:1],
            "forecastData": points,
        }
    ]


def _ca_serve(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{CA}/emissions/forecasts/current", json=_ca_body())
    # the documented bylocation example, twice five minutes apart (the docs show one point)
    doc = load(FIXTURES, "carbon_aware_sdk/emissions_bylocation_response.doc-example.json")[0]
    later = dict(doc, time="2022-05-17T20:50:11.5092741+00:00", rating=71)
    rsps.get(f"{CA}/emissions/bylocation", json=[doc, later])


def _trace(clock: FakeClock, tmp_path: Path) -> ForecastProvider:
    csv = tmp_path / "trace.csv"
    t0 = datetime(2026, 11, 25, tzinfo=UTC)
    rows = [f"{(t0 + timedelta(hours=h)).isoformat()},DE,{200 + 10 * (h % 24)}" for h in range(96)]
    csv.write_text("datetime,zone,g_per_kwh\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return TraceReplayProvider.from_files([csv], clock=clock)


T_NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
CASES = [
    Case(
        name="electricitymaps",
        build=lambda c, _p: ElectricityMapsProvider(
            api_key="k", http=make_http(c, "electricitymaps"), clock=c, rules=RULES
        ),
        now=datetime(2024, 3, 6, 20, tzinfo=UTC),
        zone="DE",
        start=datetime(2023, 5, 2, 20, tzinfo=UTC),
        end=datetime(2023, 5, 3, 20, tzinfo=UTC),
        serve=_em_serve,
        data_url=f"{EM}/carbon-intensity/forecast",
        history=(datetime(2024, 3, 6, tzinfo=UTC), datetime(2024, 3, 6, 12, tzinfo=UTC)),
    ),
    Case(
        name="watttime",
        build=lambda c, _p: WattTimeProvider(
            username="u", password="p", http=make_http(c, "watttime"), clock=c, rules=RULES
        ),
        now=datetime(2022, 7, 15, 0, 1, tzinfo=UTC),
        zone="CAISO_NORTH",
        start=datetime(2022, 7, 15, tzinfo=UTC),
        end=datetime(2022, 7, 15, 6, tzinfo=UTC),
        serve=_wt_serve,
        data_url=f"{WT}/v3/forecast",
        history=(datetime(2022, 7, 15, tzinfo=UTC), datetime(2022, 7, 15, 0, 10, tzinfo=UTC)),
    ),
    Case(
        name="ukci",
        build=lambda c, _p: UkCarbonIntensityProvider(
            http=make_http(c, "ukci"), clock=c, rules=RULES
        ),
        now=datetime(2020, 5, 19, 20, 5, tzinfo=UTC),
        zone="GB-11",
        start=datetime(2020, 5, 19, 20, tzinfo=UTC),
        end=datetime(2020, 5, 20, 8, tzinfo=UTC),
        serve=_uk_serve,
        data_url=f"{UK}/regional/intensity/2020-05-19T20:00Z/fw48h/regionid/11",
        history=(datetime(2018, 1, 20, 12, tzinfo=UTC), datetime(2018, 1, 20, 12, 30, tzinfo=UTC)),
        history_zone="GB",
    ),
    Case(
        name="carbon-aware-sdk",
        build=lambda c, _p: CarbonAwareSdkProvider(
            base_url=CA, http=make_http(c, "carbon-aware-sdk"), clock=c, rules=RULES
        ),
        now=datetime(2022, 6, 1, 14, tzinfo=UTC),
        zone="eastus",
        start=datetime(2022, 6, 1, 14, tzinfo=UTC),
        end=datetime(2022, 6, 1, 15, tzinfo=UTC),
        serve=_ca_serve,
        data_url=f"{CA}/emissions/forecasts/current",
        history=(datetime(2022, 5, 17, 20, 45, tzinfo=UTC), datetime(2022, 5, 17, 21, tzinfo=UTC)),
    ),
    Case(
        name="static",
        build=lambda c, _p: StaticProvider({"DE": 300.0}, clock=c),
        now=T_NOW,
        zone="DE",
        start=T_NOW,
        end=T_NOW + timedelta(hours=24),
        history=(T_NOW - timedelta(hours=6), T_NOW),
    ),
    Case(
        name="trace",
        build=_trace,
        now=T_NOW,
        zone="DE",
        start=T_NOW,
        end=T_NOW + timedelta(hours=24),
        history=(T_NOW - timedelta(hours=6), T_NOW),
    ),
]
HTTP_CASES = [case for case in CASES if case.data_url]


@pytest.fixture(params=CASES, ids=[case.name for case in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    """Each provider; the HTTP ones need ../shared/fixtures."""
    chosen: Case = request.param
    if chosen.data_url:
        request.getfixturevalue("shared_dir")
    return chosen


@pytest.fixture
def served(case: Case) -> Iterator[responses.RequestsMock]:
    """The case's recorded endpoints, served without a network."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        case.serve(rsps)
        yield rsps


def test_forecast_covers_the_window_with_complete_provenance(
    case: Case, served: responses.RequestsMock, tmp_path: Path
) -> None:
    """A forecast: right zone, UTC points inside the window from its start, full provenance."""
    clock = FakeClock(case.now)
    provider = case.build(clock, tmp_path)
    assert isinstance(provider, ForecastProvider)
    forecast = provider.forecast(case.zone, case.start, case.end)
    assert forecast.zone == case.zone
    assert forecast.points, "a provider with data for the window returns at least one point"
    step = timedelta(seconds=forecast.step_s)
    assert forecast.points[0].start <= case.start < forecast.points[0].start + step
    assert all(p.start.tzinfo == UTC for p in forecast.points)
    assert all(p.start < case.end and p.start + step > case.start for p in forecast.points)
    prov = forecast.provenance
    assert (prov.provider, prov.zone) == (provider.name, case.zone)
    assert prov.signal in ("average", "marginal")
    assert prov.generated_at <= prov.fetched_at == case.now
    assert prov.fallback is False
    assert validate_forecast(forecast, RULES).points == forecast.points


def test_history_where_offered_lies_inside_the_window(
    case: Case, served: responses.RequestsMock, tmp_path: Path
) -> None:
    """Every provider also offers IntensityHistory: observed points lie within [start, end)."""
    clock = FakeClock(case.now)
    provider = case.build(clock, tmp_path)
    assert isinstance(provider, IntensityHistory)
    start, end = case.history
    observed = provider.observed(case.history_zone or case.zone, start, end)
    step = timedelta(seconds=observed.step_s)
    assert observed.points
    assert all(start < p.start + step and p.start < end for p in observed.points)
    assert observed.provenance.provider == provider.name


def test_naive_window_is_refused(
    case: Case, served: responses.RequestsMock, tmp_path: Path
) -> None:
    """A window without timezone is a caller error, refused before any request."""
    provider = case.build(FakeClock(case.now), tmp_path)
    naive = case.start.replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone"):
        provider.forecast(case.zone, naive, naive + timedelta(hours=1))


def test_unknown_zone_is_a_permanent_forecast_error(case: Case, tmp_path: Path) -> None:
    """An unknown zone raises ForecastError (never Unavailable, never a foreign error)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(
            url=re.compile(r"https?://.*"),
            status=404,
            json={"status": "error", "message": "unknown zone"},
        )
        provider = case.build(FakeClock(case.now), tmp_path)
        with pytest.raises(ForecastError) as caught:
            provider.forecast("NOWHERE-1", case.start, case.end)
    assert not isinstance(caught.value, ForecastUnavailable)


@pytest.mark.parametrize("case", HTTP_CASES, ids=[c.name for c in HTTP_CASES], indirect=True)
def test_http_provider_down_is_unavailable(case: Case, tmp_path: Path) -> None:
    """5xx on every try: ForecastUnavailable naming provider and zone."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        case.serve(rsps)
        assert case.data_url is not None
        rsps.replace(responses.GET, case.data_url, status=503)
        provider = case.build(FakeClock(case.now), tmp_path)
        with pytest.raises(
            ForecastUnavailable, match=rf"{provider.name}: zone {case.zone}: HTTP 503"
        ):
            provider.forecast(case.zone, case.start, case.end)


@pytest.mark.parametrize("case", HTTP_CASES, ids=[c.name for c in HTTP_CASES], indirect=True)
@pytest.mark.parametrize("body", [{}, [], None], ids=["empty-object", "empty-list", "empty-body"])
def test_http_provider_empty_answer_is_rejected(case: Case, tmp_path: Path, body: Any) -> None:
    """HTTP 200 with {}, [] or no body is ForecastRejected, never an empty forecast."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        case.serve(rsps)
        assert case.data_url is not None
        if body is None:
            rsps.replace(responses.GET, case.data_url, body="")
        else:
            rsps.replace(responses.GET, case.data_url, json=body)
        provider = case.build(FakeClock(case.now), tmp_path)
        with pytest.raises(ForecastRejected, match=provider.name):
            provider.forecast(case.zone, case.start, case.end)
