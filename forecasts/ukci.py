"""``UkCarbonIntensityProvider``: the GB Carbon Intensity API (NESO), no key needed.

Zone ``GB`` is the national series (``/intensity/{from}/fw48h``; history with ``actual``
values from ``/intensity/{from}/{to}``). Regional zones are ``GB-<regionid>`` (1–17) or names
mapped in the options to a region id or a postcode (``/regional/intensity/{from}/fw48h/
regionid/{id}`` or ``…/postcode/{pc}``). Real regional answers return ``data`` as an object,
the documentation shows a one-element list: both are read. Half-hour slots, g/kWh, UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
from scheduler.errors import ForecastError
from scheduler.model import Forecast, ensure_utc
from scheduler.protocols import Clock

STEP_S = 1800
NATIONAL = "GB"
REGION_IDS = range(1, 18)


class UkCarbonIntensityOptions(HttpOptions):
    """Options of the ``ukci`` provider."""

    base_url: str = "https://api.carbonintensity.org.uk"
    regions: dict[str, int | str] = Field(
        default_factory=dict,
        description="zone id → region id (1–17) or postcode, e.g. {'GB-south': 'BH1'}",
    )


class UkCarbonIntensityProvider:
    """National and regional GB forecasts (48 h) and national history."""

    name = "ukci"

    def __init__(
        self,
        *,
        http: HttpClient,
        clock: Clock,
        rules: ValidationRules,
        base_url: str = "https://api.carbonintensity.org.uk",
        regions: dict[str, int | str] | None = None,
    ) -> None:
        self._http = http
        self._clock = clock
        self._rules = rules
        self._base = base_url.rstrip("/")
        self._regions = dict(regions or {})

    def requests_used(self) -> int:
        """Requests in the current budget window."""
        return self._http.requests_used()

    def forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """The 48 h half-hourly forecast from the slot holding ``start``, clipped to ``end``."""
        start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
        path = f"/intensity/{_slot(start)}/fw48h"
        if zone != NATIONAL:
            path = f"/regional/intensity/{_slot(start)}/fw48h/{self._region_path(zone)}"
        body = self._http.get_json(self._base + path, zone=zone, headers=_ACCEPT)
        return within(self._series(body, zone, "forecast"), start, end)

    def observed(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """Realised intensity (``actual``; the estimate where actual is not yet known)."""
        start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
        path = f"/intensity/{_slot(start)}/{_slot(end)}"
        if zone != NATIONAL:
            path = f"/regional/intensity/{_slot(start)}/{_slot(end)}/{self._region_path(zone)}"
        body = self._http.get_json(self._base + path, zone=zone, headers=_ACCEPT)
        return within(self._series(body, zone, "actual"), start, end)

    def _region_path(self, zone: str) -> str:
        target = self._regions.get(zone)
        if target is None and zone.startswith("GB-") and zone[3:].isdigit():
            target = int(zone[3:])
        if isinstance(target, int) and target in REGION_IDS:
            return f"regionid/{target}"
        if isinstance(target, str) and target.strip():
            return f"postcode/{target.strip()}"
        raise ForecastError(
            f"{self.name}: unknown zone {zone!r}; use GB (national), GB-1 … GB-17 (region ids) "
            "or map the zone to a region id or postcode under the provider's 'regions'"
        )

    def _series(self, body: Any, zone: str, field: str) -> Forecast:
        slots = _slots(body)
        if slots is None:
            raise reject(self.name, zone, "the answer has no 'data' with half-hour slots")
        now = self._clock.now()
        meta = SeriesMeta(
            provider=self.name, zone=zone, step_s=STEP_S, generated_at=now, fetched_at=now
        )
        points = [self._point(slot, zone, field) for slot in slots]
        return validate_series(points, meta=meta, rules=self._rules)

    def _point(self, slot: Any, zone: str, field: str) -> RawPoint:
        intensity = slot.get("intensity") if isinstance(slot, dict) else None
        if not isinstance(intensity, dict):
            raise reject(self.name, zone, f"a slot lacks 'intensity': {slot!r}")
        value = intensity.get(field)
        if value is None and field == "actual":
            value = intensity.get("forecast")
        return RawPoint(
            start=parse_utc(slot.get("from"), provider=self.name, zone=zone, field="from"),
            g_per_kwh=to_g_per_kwh(value, "gCO2/kWh", provider=self.name, zone=zone),
        )


_ACCEPT = {"Accept": "application/json"}


def _slot(value: datetime) -> str:
    """``value`` floored to its half hour, in the API's ``YYYY-MM-DDThh:mmZ`` form."""
    value = value.astimezone(UTC)
    floored = value.replace(minute=value.minute - value.minute % 30, second=0, microsecond=0)
    return floored.strftime("%Y-%m-%dT%H:%MZ")


def _slots(body: Any) -> list[Any] | None:
    """The half-hour slots of a national or regional answer (``data`` object or list)."""
    data: Any = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        data = data[0] if isinstance(data[0].get("data"), list) else data
    if isinstance(data, dict):
        data = data.get("data")
    return data if isinstance(data, list) and data else None
