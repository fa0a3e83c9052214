"""``CarbonAwareSdkProvider``: the Green Software Foundation's Carbon Aware SDK WebAPI.

A self-hosted aggregator (it wraps WattTime or Electricity Maps), so ``base_url`` is
required. Forecasts come from ``/emissions/forecasts/current`` (``forecastData`` points with a
``duration`` in minutes), history from ``/emissions/bylocation``, and the greenest of several
locations from ``/emissions/bylocations/best``. Values (``value``/``rating``) are g/kWh; zones
are the SDK's location names (``eastus``, ``westeurope``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field

from forecasts.http import HttpClient, HttpOptions
from forecasts.validation import (
    RawPoint,
    SeriesMeta,
    ValidationRules,
    parse_utc,
    reject,
    to_g_per_kwh,
    validate_series,
    within,
)
from scheduler.model import Forecast, SignalType, ensure_utc
from scheduler.protocols import Clock


class CarbonAwareSdkOptions(HttpOptions):
    """Options of the ``carbon-aware-sdk`` provider."""

    base_url: str = Field(min_length=1, description="where the WebAPI runs, e.g. http://casdk:80")
    signal: SignalType = Field(
        default="marginal", description="marginal behind WattTime, average behind Electricity Maps"
    )


@dataclass(frozen=True, kw_only=True)
class BestLocation:
    """The greenest location and time the SDK found."""

    zone: str
    at: datetime
    g_per_kwh: float


class CarbonAwareSdkProvider:
    """Forecasts, history and best-location queries through the Carbon Aware WebAPI."""

    name = "carbon-aware-sdk"

    def __init__(
        self,
        *,
        base_url: str,
        http: HttpClient,
        clock: Clock,
        rules: ValidationRules,
        signal: SignalType = "marginal",
    ) -> None:
        self._base = base_url.rstrip("/")
        self._http = http
        self._clock = clock
        self._rules = rules
        self._signal: SignalType = signal

    def requests_used(self) -> int:
        """Requests in the current budget window."""
        return self._http.requests_used()

    def forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """The current forecast of ``zone`` clipped to ``[start, end)``."""
        start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
        params = {"location": zone, "dataStartAt": _iso(start), "dataEndAt": _iso(end)}
        body = self._http.get_json(
            self._base + "/emissions/forecasts/current", zone=zone, params=params
        )
        if not isinstance(body, list) or not body or not isinstance(body[0], dict):
            raise reject(self.name, zone, "expected a list with one forecast object")
        dto = body[0]
        items = dto.get("forecastData")
        generated = dto.get("generatedAt")
        return within(self._series(items, zone, generated, "value"), start, end)

    def observed(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """Realised intensity over ``[start, end)``."""
        start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
        params = {"location": zone, "time": _iso(start), "toTime": _iso(end)}
        body = self._http.get_json(self._base + "/emissions/bylocation", zone=zone, params=params)
        return within(self._series(body, zone, None, "rating"), start, end)

    def best_location(self, zones: Sequence[str], start: datetime, end: datetime) -> BestLocation:
        """The location and time with the lowest intensity among ``zones`` in the window."""
        start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
        label = ",".join(zones)
        params = {"location": list(zones), "time": _iso(start), "toTime": _iso(end)}
        body = self._http.get_json(
            self._base + "/emissions/bylocations/best", zone=label, params=params
        )
        if not isinstance(body, list) or not body:
            raise reject(self.name, label, "best-location answer holds no location")
        best = min(body, key=lambda item: _number(item, "rating", self.name, label))
        value = to_g_per_kwh(best.get("rating"), "g/kWh", provider=self.name, zone=label)
        if value is None or not self._rules.min_g_per_kwh <= value <= self._rules.max_g_per_kwh:
            raise reject(self.name, label, f"best-location rating {value!r} is out of range")
        return BestLocation(
            zone=str(best.get("location")),
            at=parse_utc(best.get("time"), provider=self.name, zone=label, field="time"),
            g_per_kwh=value,
        )

    def _series(self, items: Any, zone: str, generated: Any, field: str) -> Forecast:
        if not isinstance(items, list) or not items:
            raise reject(self.name, zone, "the answer holds no data points")
        now = self._clock.now()
        meta = SeriesMeta(
            provider=self.name,
            zone=zone,
            step_s=_step_s(items, self.name, zone),
            generated_at=parse_utc(generated, provider=self.name, zone=zone, field="generatedAt")
            if generated
            else now,
            fetched_at=now,
            signal=self._signal,
        )
        points = [
            RawPoint(
                start=parse_utc(_time(item), provider=self.name, zone=zone, field="timestamp/time"),
                g_per_kwh=to_g_per_kwh(item.get(field), "g/kWh", provider=self.name, zone=zone),
            )
            for item in items
        ]
        return validate_series(points, meta=meta, rules=self._rules)


def _time(item: Any) -> Any:
    return item.get("timestamp", item.get("time")) if isinstance(item, dict) else None


def _step_s(items: list[Any], provider: str, zone: str) -> int:
    """The declared step: ``duration`` in minutes or ``hh:mm:ss``, else the first interval."""
    duration = items[0].get("duration") if isinstance(items[0], dict) else None
    if isinstance(duration, int | float) and not isinstance(duration, bool) and duration > 0:
        return int(duration * 60)
    if isinstance(duration, str) and duration.count(":") == 2:
        hours, minutes, seconds = (float(part) for part in duration.split(":"))
        return int(hours * 3600 + minutes * 60 + seconds)
    if len(items) >= 2:
        first, second = (
            parse_utc(_time(item), provider=provider, zone=zone, field="time") for item in items[:2]
        )
        if second > first:
            return int((second - first).total_seconds())
    raise reject(provider, zone, f"points lack a usable 'duration' (got {duration!r})")


def _number(item: Any, key: str, provider: str, zone: str) -> float:
    value = item.get(key) if isinstance(item, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise reject(provider, zone, f"'{key}' must be a number, got {value!r}")
    return float(value)


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
