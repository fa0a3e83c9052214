"""The failover chain: fill-in order, fallback marks, cache TTL and staleness (fake clock)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import responses

from forecasts.cache import MemoryForecastCache
from forecasts.chain import ChainPolicy, ForecastChain
from forecasts.electricitymaps import ElectricityMapsProvider
from forecasts.static import StaticProvider
from forecasts.validation import ValidationRules
from scheduler.clock import FakeClock
from scheduler.errors import ForecastError, ForecastUnavailable
from scheduler.model import Forecast, ForecastProvenance, IntensityPoint
from tests.forecasts.helpers import make_http

T0 = datetime(2026, 11, 26, 12, tzinfo=UTC)
H = timedelta(hours=1)


def series(
    provider: str,
    start: datetime,
    values: Sequence[float],
    *,
    step_s: int = 3600,
    generated_at: datetime = T0,
    zone: str = "DE",
) -> Forecast:
    """A forecast as a provider would return it."""
    points = tuple(
        IntensityPoint(start=start + timedelta(seconds=step_s * i), g_per_kwh=v)
        for i, v in enumerate(values)
    )
    end = points[-1].start + timedelta(seconds=step_s)
    return Forecast(
        zone=zone,
        step_s=step_s,
        points=points,
        provenance=ForecastProvenance(
            provider=provider,
            zone=zone,
            generated_at=generated_at,
            fetched_at=generated_at,
            horizon_s=int((end - generated_at).total_seconds()),
        ),
    )


class Scripted:
    """A provider whose answers the test scripts: a forecast or an error, per call."""

    def __init__(self, name: str, answer: Callable[[str, datetime, datetime], Forecast]) -> None:
        self.name = name
        self.answer = answer
        self.calls = 0

    def forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        self.calls += 1
        return self.answer(zone, start, end)


def failing(message: str) -> Callable[[str, datetime, datetime], Forecast]:
    def answer(_zone: str, _start: datetime, _end: datetime) -> Forecast:
        raise ForecastUnavailable(message)

    return answer


class MeanForecaster:
    """A tiny SignalForecaster: the mean of the last day of history, for every step."""

    name = "mean-forecaster"

    def predict(
        self, zone: str, history_g_per_kwh: Sequence[float], step_s: int, horizon_steps: int
    ) -> Sequence[float]:
        day = history_g_per_kwh[-(86400 // step_s) :]
        return [sum(day) / len(day)] * horizon_steps


def chain(
    clock: FakeClock,
    *providers: object,
    cache: MemoryForecastCache | None = None,
    forecaster: MeanForecaster | None = None,
    history: Sequence[object] = (),
) -> ForecastChain:
    return ForecastChain(
        default=list(providers),  # type: ignore[arg-type]
        cache=cache or MemoryForecastCache(),
        clock=clock,
        rules=ValidationRules(),
        policy=ChainPolicy(ttl=timedelta(hours=2)),
        forecaster=forecaster,
        history=history,  # type: ignore[arg-type]
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def test_first_provider_covers_window_without_fallback(clock: FakeClock) -> None:
    """When the first provider covers the window, it alone answers and is not a fallback."""
    first = Scripted("first", lambda z, s, e: series("first", T0, [100.0 + i for i in range(24)]))
    second = Scripted("second", failing("never asked"))
    forecast = chain(clock, first, second).forecast("DE", T0, T0 + 12 * H)
    assert [p.g_per_kwh for p in forecast.points] == [100.0 + i for i in range(12)]
    assert forecast.provenance.provider == "first"
    assert forecast.provenance.fallback is False
    assert second.calls == 0


def test_failed_provider_is_replaced_by_next_marked_fallback(clock: FakeClock) -> None:
    """A provider that is down is skipped; the next one answers, marked as fallback."""
    cache = MemoryForecastCache()
    first = Scripted("first", failing("first: zone DE: HTTP 503 after 4 tries"))
    second = Scripted("second", lambda z, s, e: series("second", T0, [200.0] * 12))
    signal = chain(clock, first, second, cache=cache).resolve("DE", T0, T0 + 12 * H)
    assert signal.forecast is not None
    assert signal.forecast.provenance.provider == "second"
    assert signal.forecast.provenance.fallback is True
    assert signal.problems == ("first: zone DE: HTTP 503 after 4 tries",)
    status = {s.provider: s for s in cache.statuses()}
    assert status["first"].last_error_at == T0
    assert status["second"].last_success_at == T0


def test_short_horizon_is_filled_by_the_next_provider(clock: FakeClock) -> None:
    """First covers 6 h of 12; the second (half-hourly) fills the rest on the first's grid."""
    first = Scripted("first", lambda z, s, e: series("first", T0, [100.0] * 6))
    second = Scripted(
        "second",
        lambda z, s, e: series("second", s, [300.0 + i for i in range(24)], step_s=1800),
    )
    forecast = chain(clock, first, second).forecast("DE", T0, T0 + 12 * H)
    assert forecast.step_s == 3600
    assert len(forecast.points) == 12
    assert [p.g_per_kwh for p in forecast.points[:6]] == [100.0] * 6
    # the hourly grid samples the half-hour series at each full hour from 18:00: 312, 314, …
    assert [p.g_per_kwh for p in forecast.points[6:]] == [312.0, 314, 316, 318, 320, 322]
    assert forecast.provenance.fallback is True
    assert any("second (fallback)" in note for note in forecast.provenance.notes)


def test_forecaster_fills_beyond_every_provider_horizon(clock: FakeClock) -> None:
    """Past the last provider's horizon, the forecaster (fed with history) fills in."""
    history = StaticProvider({"DE": 250.0}, clock=clock)
    first = Scripted("first", lambda z, s, e: series("first", T0, [100.0] * 24))
    forecast = chain(clock, first, forecaster=MeanForecaster(), history=[history]).forecast(
        "DE", T0, T0 + 48 * H
    )
    assert len(forecast.points) == 48
    assert [p.g_per_kwh for p in forecast.points[24:]] == [250.0] * 24
    assert forecast.provenance.fallback is True
    assert any("mean-forecaster (fallback)" in n for n in forecast.provenance.notes)


def test_no_usable_signal_says_so(clock: FakeClock) -> None:
    """Every provider down and no forecaster: no forecast, every problem listed, planner told."""
    a = Scripted("a", failing("a: zone DE: HTTP 500 after 4 tries"))
    b = Scripted("b", failing("b: zone DE: budget spent"))
    c = chain(clock, a, b)
    signal = c.resolve("DE", T0, T0 + 6 * H)
    assert signal.forecast is None
    assert len(signal.problems) == 2
    with pytest.raises(ForecastUnavailable, match=r"no usable carbon signal.*deadline-safe"):
        c.forecast("DE", T0, T0 + 6 * H)


def test_fresh_cache_spares_the_provider_until_ttl(clock: FakeClock) -> None:
    """Within the TTL the cached forecast answers; after it the provider is asked again."""
    first = Scripted(
        "first", lambda z, s, e: series("first", T0, [100.0] * 72, generated_at=clock.now())
    )
    c = chain(clock, first)
    c.forecast("DE", T0, T0 + 12 * H)
    clock.advance(timedelta(minutes=119))
    c.forecast("DE", T0 + 2 * H, T0 + 14 * H)
    assert first.calls == 1
    clock.advance(timedelta(minutes=1))
    c.forecast("DE", T0 + 2 * H, T0 + 14 * H)
    assert first.calls == 2


def test_stale_cache_is_used_marked_stale_when_providers_fail(clock: FakeClock) -> None:
    """Past its TTL, a cached forecast is the last resort before nothing, flagged stale."""
    cache = MemoryForecastCache()
    answers: list[Callable[[str, datetime, datetime], Forecast]] = [
        lambda z, s, e: series("first", T0, [100.0] * 72),
        failing("first: zone DE: HTTP 503"),
    ]

    def next_answer(zone: str, start: datetime, end: datetime) -> Forecast:
        return answers.pop(0)(zone, start, end)

    first = Scripted("first", next_answer)
    c = chain(clock, first, cache=cache)
    c.refresh("DE")
    clock.advance(timedelta(hours=3))
    forecast = c.forecast("DE", clock.now(), clock.now() + 6 * H)
    assert forecast.provenance.stale is True
    assert forecast.provenance.fallback is True
    assert any(note.startswith("stale: fetched 180 min ago") for note in forecast.provenance.notes)


def test_invalid_new_forecast_never_replaces_the_cached_one(clock: FakeClock) -> None:
    """A refresh whose payload fails validation keeps the last good forecast in the cache."""
    cache = MemoryForecastCache()
    good = series("first", T0, [100.0] * 24)
    answers = [good, series("first", T0, [5000.0] * 24, generated_at=T0 + H)]
    first = Scripted("first", lambda z, s, e: answers.pop(0))
    c = chain(clock, first, cache=cache)
    assert c.refresh("DE") is not None
    clock.advance(H)
    assert c.refresh("DE") is None
    cached = cache.load("DE")
    assert cached is not None
    assert cached.points[0].g_per_kwh == 100.0
    assert "outside 0–2500 g/kWh" in cache.statuses()[0].last_error


@responses.activate
def test_real_http_provider_down_fails_over_to_static(clock: FakeClock) -> None:
    """Electricity Maps answering 503 four times hands over to the static provider."""
    responses.get("https://api.electricitymaps.com/v3/carbon-intensity/forecast", status=503)
    em = ElectricityMapsProvider(
        api_key="k", http=make_http(clock, "electricitymaps"), clock=clock, rules=ValidationRules()
    )
    static = StaticProvider({"DE": 321.0}, clock=clock)
    forecast = chain(clock, em, static).forecast("DE", T0, T0 + 3 * H)
    assert [p.g_per_kwh for p in forecast.points] == [321.0] * 3
    assert forecast.provenance.provider == "static"
    assert forecast.provenance.fallback is True
    assert len(responses.calls) == 4


def test_permanent_error_also_fails_over(clock: FakeClock) -> None:
    """A permanent fault (bad key) of one provider does not stop the chain either."""

    def bad_key(_z: str, _s: datetime, _e: datetime) -> Forecast:
        raise ForecastError("first: zone DE: HTTP 401 (bad key)")

    second = Scripted("second", lambda z, s, e: series("second", T0, [50.0] * 6))
    forecast = chain(clock, Scripted("first", bad_key), second).forecast("DE", T0, T0 + 6 * H)
    assert forecast.provenance.provider == "second"


def test_failed_provider_rests_before_it_is_asked_again(clock: FakeClock) -> None:
    """A provider that failed is skipped for 5 min (problem says until when), then retried."""
    first = Scripted("first", failing("first: zone DE: HTTP 503 after 4 tries"))
    second = Scripted("second", lambda z, s, e: series("second", T0, [200.0] * 72))
    c = chain(clock, first, second)
    c.resolve("DE", T0, T0 + 6 * H)
    clock.advance(timedelta(minutes=4))
    signal = c.resolve("DE", clock.now(), clock.now() + 6 * H)
    assert first.calls == 1
    assert "not asked again before 12:05:00 UTC" in signal.problems[0]
    clock.advance(timedelta(minutes=1))
    c.resolve("DE", clock.now(), clock.now() + 6 * H)
    assert first.calls == 2


def test_fill_in_answers_are_reused_within_the_ttl(clock: FakeClock) -> None:
    """Planner ticks within the TTL ask neither the first provider nor the fill-in again."""
    first = Scripted("first", lambda z, s, e: series("first", T0, [100.0] * 24))
    second = Scripted("second", lambda z, s, e: series("second", T0, [200.0] * 72))
    c = chain(clock, first, second)
    for _ in range(10):
        forecast = c.forecast("DE", clock.now(), clock.now() + 48 * H)
        clock.advance(timedelta(minutes=5))
    assert (first.calls, second.calls) == (1, 1)
    assert forecast.points[-1].g_per_kwh == 200.0


def test_forecaster_is_not_rerun_every_tick(clock: FakeClock) -> None:
    """The forecaster's series is reused while fresh and long enough."""
    calls: list[int] = []

    class Counting(MeanForecaster):
        def predict(
            self, zone: str, history_g_per_kwh: Sequence[float], step_s: int, horizon_steps: int
        ) -> Sequence[float]:
            calls.append(horizon_steps)
            return super().predict(zone, history_g_per_kwh, step_s, horizon_steps + 12)

    history = StaticProvider({"DE": 250.0}, clock=clock)
    first = Scripted("first", lambda z, s, e: series("first", T0, [100.0] * 24))
    c = chain(clock, first, forecaster=Counting(), history=[history])
    c.forecast("DE", T0, T0 + 48 * H)
    clock.advance(timedelta(minutes=30))
    c.forecast("DE", clock.now(), clock.now() + 48 * H)
    assert len(calls) == 1


def test_restart_uses_the_persisted_forecast_without_fetching(clock: FakeClock) -> None:
    """A new chain on the same cache (a restart) answers from a fresh entry, asking nobody."""
    cache = MemoryForecastCache()
    before = Scripted("first", lambda z, s, e: series("first", T0, [100.0] * 48))
    chain(clock, before, cache=cache).refresh("DE")
    clock.advance(timedelta(minutes=30))
    after = Scripted("first", failing("must not be asked"))
    forecast = chain(clock, after, cache=cache).forecast("DE", clock.now(), clock.now() + 6 * H)
    assert after.calls == 0
    assert forecast.provenance.stale is False
    assert len(forecast.points) == 7  # 12:30 lies inside the 12:00 step
