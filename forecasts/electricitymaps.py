"""``ElectricityMapsProvider``: Electricity Maps API v3 (``auth-token`` header).

Endpoints: ``/carbon-intensity/forecast`` (hourly, ~24–72 h), ``/carbon-intensity/latest``,
``/carbon-intensity/history`` (last 24 h) and ``/carbon-intensity/past-range`` (older ranges,
at most 10 days per request, so longer ones are split; its list is under ``data``, not
``history``). Values are lifecycle average g/kWh, UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, SecretStr

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
from scheduler.model import Forecast, ensure_utc
from scheduler.protocols import Clock

STEP_S = 3600
HISTORY_WINDOW = timedelta(hours=24)
#: The longest range one past-range request may ask for (hourly data); longer ones are split.
PAST_RANGE_MAX = timedelta(days=10)


class ElectricityMapsOptions(HttpOptions):
    """Options of the ``electricitymaps`` provider."""

    api_key: SecretStr = Field(description="Electricity Maps API token (auth-token header)")
    base_url: str = Field(default="https://api.electricitymaps.com/v3")


class ElectricityMapsProvider:
    """Forecast, latest and history of Electricity Maps zones (``DE``, ``US-CAL-CISO``, …)."""

    name = "electricitymaps"

    def __init__(
        self,
        *,
        api_key: str,
        http: HttpClient,
        clock: Clock,
        rules: ValidationRules,
        base_url: str = "https://api.electricitymaps.com/v3",
    ) -> None:
        self._headers = {"auth-token": api_key}
        self._http = http
        self._http.add_secret(api_key)
        self._clock = clock
        self._rules = rules
        self._base = base_url.rstrip("/")

    def requests_used(self) -> int:
        """Requests in the current budget window."""
        return self._http.requests_used()

    def forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """Hourly forecast clipped to ``[start, end)``; ends where the provider's horizon does."""
        body = self._get("/carbon-intensity/forecast", zone, {"zone": zone})
        generated = body.get("updatedAt") if isinstance(body, dict) else None
        series = self._series(body, "forecast", zone, generated)
        return within(series, ensure_utc(start, "start"), ensure_utc(end, "end"))

    def observed(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """Realised hourly intensity: ``history`` for the last 24 h, else ``past-range``."""
        start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
        if start >= self._clock.now() - HISTORY_WINDOW:
            body = self._get("/carbon-intensity/history", zone, {"zone": zone})
            series = self._series(body, "history", zone, None)
        else:
            items: list[Any] = []
            for chunk_start, chunk_end in _chunks(start, end, PAST_RANGE_MAX):
                params = {"zone": zone, "start": _iso(chunk_start), "end": _iso(chunk_end)}
                body = self._get("/carbon-intensity/past-range", zone, params)
                items += _items(body, "data", self.name, zone)
            series = self._series({"data": items}, "data", zone, None)
        return within(series, start, end)

    def latest(self, zone: str) -> Forecast:
        """The most recent hour as a one-point series."""
        body = self._get("/carbon-intensity/latest", zone, {"zone": zone})
        return self._series({"latest": [body]}, "latest", zone, None)

    def _get(self, path: str, zone: str, params: dict[str, str]) -> Any:
        return self._http.get_json(
            self._base + path, zone=zone, params=params, headers=self._headers
        )

    def _series(self, body: Any, key: str, zone: str, generated: Any) -> Forecast:
        items = _items(body, key, self.name, zone)
        now = self._clock.now()
        points = [self._point(item, zone) for item in items]
        generated_at = (
            parse_utc(generated, provider=self.name, zone=zone, field="updatedAt")
            if generated
            else now
        )
        meta = SeriesMeta(
            provider=self.name,
            zone=zone,
            step_s=STEP_S,
            generated_at=generated_at,
            fetched_at=now,
        )
        return validate_series(points, meta=meta, rules=self._rules)

    def _point(self, item: Any, zone: str) -> RawPoint:
        if not isinstance(item, dict):
            raise reject(self.name, zone, f"a point must be an object, got {item!r}")
        return RawPoint(
            start=parse_utc(item.get("datetime"), provider=self.name, zone=zone, field="datetime"),
            g_per_kwh=to_g_per_kwh(
                item.get("carbonIntensity"), "gCO2eq/kWh", provider=self.name, zone=zone
            ),
        )


def _items(body: Any, key: str, provider: str, zone: str) -> list[Any]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise reject(provider, zone, f"the answer has no '{key}' list (got {_shape(body)})")
    return items


def _chunks(start: datetime, end: datetime, size: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive windows of at most ``size``."""
    while start < end:
        yield start, min(end, start + size)
        start += size


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _shape(body: Any) -> str:
    if isinstance(body, dict):
        return "keys " + (", ".join(sorted(body)) or "none: {}")
    return type(body).__name__
