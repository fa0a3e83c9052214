"""``ForecastChain``: per-zone failover over providers, the cache and the fallback forecaster.

For a window ``[start, end)`` of a zone the chain walks the zone's ordered providers. The
first usable answer covers the window from ``start``; when a provider fails, or its horizon
ends before ``end``, the next one fills in from where the last stopped. Then a stale cached
forecast (only past every provider), and finally the ``SignalForecaster`` fed with the zone's
observed history, fill what is left. Everything but the zone's first provider is marked
``fallback``; a cached forecast past its TTL is marked ``stale``. ``forecasts.combine`` joins
the pieces into one series with one provenance.

Network use is bounded, because the planner asks every tick: each provider's answer (its
whole horizon) is reused while younger than the TTL, the zone's first usable answer is saved
in the persistent ``ForecastCache`` (so a restart starts from it), and a provider that failed
is not asked again for that zone before ``retry_failed_after`` (``refresh`` always asks).

A zone with no usable signal at all is an expected outcome: ``resolve`` returns a
``ZoneSignal`` without a forecast, listing every provider's problem; ``forecast`` (the
``ForecastProvider`` protocol) raises ``ForecastUnavailable``. The planner then runs the
zone's jobs deadline-safe.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from forecasts.cache import is_stale, mark_stale
from forecasts.combine import combine, end_of, piece_from
from forecasts.validation import RawPoint, SeriesMeta, ValidationRules, validate_forecast
from forecasts.validation import validate_series as _validate_series
from scheduler.errors import ForecastError, ForecastUnavailable
from scheduler.model import Forecast, ProviderStatus
from scheduler.protocols import (
    Clock,
    ForecastCache,
    ForecastProvider,
    IntensityHistory,
    SignalForecaster,
)


@dataclass(frozen=True, kw_only=True)
class ZoneSignal:
    """What the chain found for one zone: a forecast, or none and why."""

    zone: str
    forecast: Forecast | None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ChainPolicy:
    """Timing of the chain."""

    ttl: timedelta = timedelta(hours=2)
    refresh_horizon: timedelta = timedelta(hours=72)
    history_window: timedelta = timedelta(days=7)
    retry_failed_after: timedelta = timedelta(minutes=5)


class ForecastChain:
    """A ``ForecastProvider`` that fails over across a zone's providers (see module doc)."""

    name = "chain"

    def __init__(
        self,
        *,
        default: Sequence[ForecastProvider],
        zones: Mapping[str, Sequence[ForecastProvider]] | None = None,
        cache: ForecastCache,
        clock: Clock,
        rules: ValidationRules,
        policy: ChainPolicy | None = None,
        forecaster: SignalForecaster | None = None,
        history: Sequence[IntensityHistory] = (),
    ) -> None:
        self._default = list(default)
        self._zones = {zone: list(chain) for zone, chain in (zones or {}).items()}
        self._cache = cache
        self._clock = clock
        self._rules = rules
        self._policy = policy or ChainPolicy()
        self._forecaster = forecaster
        self._history = list(history)
        self._answers: dict[tuple[str, int], Forecast] = {}
        self._failed: dict[tuple[str, int], tuple[datetime, str]] = {}
        self._predicted: dict[str, Forecast] = {}
        self._lock = threading.RLock()

    def providers_for(self, zone: str) -> Sequence[ForecastProvider]:
        """The ordered providers of ``zone`` (its own list, else the default one)."""
        return self._zones.get(zone, self._default)

    def configured_zones(self) -> list[str]:
        """Zones with their own provider list."""
        return sorted(self._zones)

    def all_providers(self) -> list[ForecastProvider]:
        """Every configured provider once, in configuration order."""
        seen: dict[int, ForecastProvider] = {}
        for provider in [*self._default, *(p for c in self._zones.values() for p in c)]:
            seen.setdefault(id(provider), provider)
        return list(seen.values())

    def forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """The combined forecast, or ``ForecastUnavailable`` listing every provider's problem."""
        signal = self.resolve(zone, start, end)
        if signal.forecast is None:
            raise ForecastUnavailable(
                f"zone {zone} has no usable carbon signal ({'; '.join(signal.problems)}); "
                "its jobs are planned deadline-safe until a provider answers"
            )
        return signal.forecast

    def refresh(self, zone: str) -> Forecast | None:
        """Ask the zone's providers in order; cache the first usable answer (None: keep old)."""
        with self._lock:
            now = self._clock.now()
            for index, provider in enumerate(self.providers_for(zone)):
                fetched = self._fetch(zone, index=index, provider=provider, now=now, problems=[])
                if fetched is not None:
                    self._cache.save(fetched)
                    return fetched
            return None

    def resolve(self, zone: str, start: datetime, end: datetime) -> ZoneSignal:
        """Cover ``[start, end)`` as far as the chain can; see the module docstring."""
        with self._lock:
            return self._resolve(zone, start, end)

    def statuses(self) -> list[ProviderStatus]:
        """Each configured provider's health (recorded by the chain in the cache)."""
        recorded = {status.provider: status for status in self._cache.statuses()}
        names = dict.fromkeys(p.name for p in self.all_providers())
        return [recorded.get(name, ProviderStatus(provider=name)) for name in names]

    def _resolve(self, zone: str, start: datetime, end: datetime) -> ZoneSignal:
        now = self._clock.now()
        cached = self._cache.load(zone)
        fresh = cached is not None and not is_stale(cached, now, self._policy.ttl)
        pieces: list[Forecast] = []
        problems: list[str] = []
        cursor = start
        for index, provider in enumerate(self.providers_for(zone)):
            if cursor >= end:
                break
            whole = self._answer(
                zone,
                index=index,
                provider=provider,
                now=now,
                problems=problems,
                fresh_cached=cached if fresh else None,
            )
            if whole is not None and not pieces and whole is not cached:
                self._cache.save(whole)
            cursor = self._extend(pieces, problems, whole, cursor, end, fallback=index > 0)
        if cursor < end and cached is not None and not fresh:
            cursor = self._extend(pieces, [], mark_stale(cached, now), cursor, end, fallback=True)
        if cursor < end and self._forecaster is not None:
            predicted = self._prediction(zone, end, now, problems)
            self._extend(pieces, problems, predicted, cursor, end, fallback=True)
        forecast = combine(zone, pieces) if pieces else None
        return ZoneSignal(zone=zone, forecast=forecast, problems=tuple(problems))

    @staticmethod
    def _extend(
        pieces: list[Forecast],
        problems: list[str],
        whole: Forecast | None,
        cursor: datetime,
        end: datetime,
        *,
        fallback: bool,
    ) -> datetime:
        """Append the part of ``whole`` from ``cursor``; return the new cursor."""
        if whole is None:
            return cursor
        piece = piece_from(whole, cursor, end, fallback=fallback)
        if isinstance(piece, str):
            problems.append(piece)
            return cursor
        pieces.append(piece)
        return end_of(piece)

    def _answer(
        self,
        zone: str,
        *,
        index: int,
        provider: ForecastProvider,
        now: datetime,
        problems: list[str],
        fresh_cached: Forecast | None,
    ) -> Forecast | None:
        """A recent answer of ``provider`` for ``zone``, or a new one unless it failed lately."""
        if fresh_cached is not None and fresh_cached.provenance.provider == provider.name:
            return fresh_cached
        recent = self._answers.get((zone, index))
        if recent is not None and not is_stale(recent, now, self._policy.ttl):
            return recent
        failed = self._failed.get((zone, index))
        if failed is not None and now - failed[0] < self._policy.retry_failed_after:
            problems.append(f"{failed[1]} (not asked again before {self._retry_at(failed[0])})")
            return None
        return self._fetch(zone, index=index, provider=provider, now=now, problems=problems)

    def _retry_at(self, failed_at: datetime) -> str:
        return (failed_at + self._policy.retry_failed_after).strftime("%H:%M:%S UTC")

    def _fetch(
        self,
        zone: str,
        *,
        index: int,
        provider: ForecastProvider,
        now: datetime,
        problems: list[str],
    ) -> Forecast | None:
        """Ask ``provider`` for its whole horizon from now; validate; remember the outcome."""
        try:
            answer = provider.forecast(zone, now, now + self._policy.refresh_horizon)
            forecast = validate_forecast(answer, self._rules)
        except ForecastError as exc:
            message = str(exc) if provider.name in str(exc) else f"{provider.name}: {exc}"
            problems.append(message)
            self._failed[(zone, index)] = (now, message)
            self._record(provider, error=message)
            return None
        self._failed.pop((zone, index), None)
        self._answers[(zone, index)] = forecast
        self._record(provider, error=None)
        return forecast

    def _record(self, provider: ForecastProvider, *, error: str | None) -> None:
        now = self._clock.now()
        old = next((s for s in self._cache.statuses() if s.provider == provider.name), None)
        status = old or ProviderStatus(provider=provider.name)
        used = getattr(provider, "requests_used", None)
        update: dict[str, object] = {"requests_used": used() if callable(used) else 0}
        if error is None:
            update["last_success_at"] = now
        else:
            update |= {"last_error": error, "last_error_at": now}
        self._cache.record_status(status.model_copy(update=update))

    def _prediction(
        self, zone: str, end: datetime, now: datetime, problems: list[str]
    ) -> Forecast | None:
        """The forecaster's series for ``zone`` reaching ``end`` (reused within the TTL)."""
        recent = self._predicted.get(zone)
        fits = recent is not None and recent.end is not None and recent.end >= end
        if recent is not None and fits and not is_stale(recent, now, self._policy.ttl):
            return recent
        predicted = self._predict(zone, end, now, problems)
        if predicted is not None:
            self._predicted[zone] = predicted
        return predicted

    def _predict(
        self, zone: str, end: datetime, now: datetime, problems: list[str]
    ) -> Forecast | None:
        forecaster = self._forecaster
        history = self._observed(zone, now, problems)
        if forecaster is None or history is None:
            return None
        step = timedelta(seconds=history.step_s)
        steps = math.ceil((end - end_of(history)) / step)
        values = [p.g_per_kwh for p in history.points]
        meta = SeriesMeta(
            provider=forecaster.name,
            zone=zone,
            step_s=history.step_s,
            generated_at=now,
            fetched_at=now,
            signal=history.provenance.signal,
            fallback=True,
        )
        try:
            predicted = forecaster.predict(zone, values, history.step_s, steps)
            raw = [
                RawPoint(start=end_of(history) + i * step, g_per_kwh=v)
                for i, v in enumerate(predicted)
            ]
            return _validate_series(raw, meta=meta, rules=self._rules)
        except ForecastError as exc:
            problems.append(f"{forecaster.name}: zone {zone}: {exc}")
            return None

    def _observed(self, zone: str, now: datetime, problems: list[str]) -> Forecast | None:
        sources = [*self._history]
        sources += [p for p in self.providers_for(zone) if isinstance(p, IntensityHistory)]
        for source in sources:
            try:
                observed = source.observed(zone, now - self._policy.history_window, now)
                return validate_forecast(observed, self._rules)
            except ForecastError as exc:
                problems.append(f"history from {source.name}: {exc}")
        if not sources:
            problems.append(f"zone {zone}: no history source for the fallback forecaster")
        return None
