"""``WattTimeProvider``: WattTime API v3, marginal emissions (``co2_moer``).

``GET /login`` with HTTP Basic auth yields a bearer token that lives 30 minutes; the provider
logs in again shortly before it expires, and once more on an unexpected 401. Data come from
``/v3/forecast`` and ``/v3/historical`` in ``lbs_co2_per_mwh``, converted to g/kWh
(× 0.45359237). Zones are WattTime region codes (``CAISO_NORTH``).
"""

from __future__ import annotations

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
from scheduler.errors import ForecastError
from scheduler.model import Forecast, SignalType, ensure_utc
from scheduler.protocols import Clock

SIGNALS: dict[str, SignalType] = {"co2_moer": "marginal", "co2_aoer": "average"}


class WattTimeOptions(HttpOptions):
    """Options of the ``watttime`` provider."""

    username: str = Field(min_length=1)
    password: SecretStr
    base_url: str = "https://api.watttime.org"
    signal_type: str = Field(default="co2_moer", pattern="^(co2_moer|co2_aoer)$")
    horizon_hours: int = Field(default=24, ge=1, le=72)
    token_lifetime_s: int = Field(default=1800, ge=60)
    token_refresh_margin_s: int = Field(default=300, ge=0)


class WattTimeProvider:
    """Forecast and history of WattTime regions, in g/kWh, signal marked marginal."""

    name = "watttime"

    def __init__(
        self,
        *,
        username: str,
        password: str,
        http: HttpClient,
        clock: Clock,
        rules: ValidationRules,
        base_url: str = "https://api.watttime.org",
        signal_type: str = "co2_moer",
        horizon_hours: int = 24,
        token_lifetime_s: int = 1800,
        token_refresh_margin_s: int = 300,
    ) -> None:
        self._credentials = (username, password)
        self._http = http
        self._http.add_secret(password)
        self._clock = clock
        self._rules = rules
        self._base = base_url.rstrip("/")
        self._signal_type = signal_type
        self._horizon_hours = horizon_hours
        self._token_usable_for = timedelta(seconds=token_lifetime_s - token_refresh_margin_s)
        self._token: str | None = None
        self._token_renew_at: datetime | None = None

    def requests_used(self) -> int:
        """Requests in the current budget window (logins included)."""
        return self._http.requests_used()

    def forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """The latest forecast (5-minute steps) clipped to ``[start, end)``."""
        params = {
            "region": zone,
            "signal_type": self._signal_type,
            "horizon_hours": str(self._horizon_hours),
        }
        body = self._get("/v3/forecast", zone, params)
        return within(self._series(body, zone), ensure_utc(start, "start"), ensure_utc(end, "end"))

    def observed(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """Historical (realised) marginal intensity over ``[start, end)``."""
        start, end = ensure_utc(start, "start"), ensure_utc(end, "end")
        params = {
            "region": zone,
            "signal_type": self._signal_type,
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
        return within(self._series(self._get("/v3/historical", zone, params), zone), start, end)

    def _get(self, path: str, zone: str, params: dict[str, str]) -> Any:
        return self._http.get_json(
            self._base + path,
            zone=zone,
            params=params,
            headers=self._auth_headers(zone),
            on_unauthorized=lambda: self._login(zone),
        )

    def _auth_headers(self, zone: str) -> dict[str, str]:
        now = self._clock.now()
        if self._token is None or self._token_renew_at is None or now >= self._token_renew_at:
            return self._login(zone)
        return {"Authorization": f"Bearer {self._token}"}

    def _login(self, zone: str) -> dict[str, str]:
        body = self._http.get_json(self._base + "/login", zone=zone, auth=self._credentials)
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ForecastError(
                f"{self.name}: zone {zone}: login answered without a token; check the "
                "username and password in the settings"
            )
        self._http.add_secret(token)
        self._token = token
        self._token_renew_at = self._clock.now() + self._token_usable_for
        return {"Authorization": f"Bearer {token}"}

    def _series(self, body: Any, zone: str) -> Forecast:
        data = body.get("data") if isinstance(body, dict) else None
        meta = body.get("meta") if isinstance(body, dict) else None
        if not isinstance(data, list) or not isinstance(meta, dict):
            raise reject(self.name, zone, "the answer lacks 'data' (a list) or 'meta'")
        region = meta.get("region")
        if region is not None and region != zone:
            raise reject(self.name, zone, f"the answer is for region {region!r}, not {zone!r}")
        unit = str(meta.get("units", ""))
        signal = SIGNALS.get(str(meta.get("signal_type", self._signal_type)))
        step_s = meta.get("data_point_period_seconds")
        if signal is None or not isinstance(step_s, int):
            raise reject(self.name, zone, f"meta lacks a known signal_type or period: {meta!r}")
        now = self._clock.now()
        generated = meta.get("generated_at")
        series_meta = SeriesMeta(
            provider=self.name,
            zone=zone,
            step_s=step_s,
            generated_at=parse_utc(generated, provider=self.name, zone=zone, field="generated_at")
            if generated
            else now,
            fetched_at=now,
            signal=signal,
        )
        points = [self._point(item, unit, zone) for item in data]
        return validate_series(points, meta=series_meta, rules=self._rules)

    def _point(self, item: Any, unit: str, zone: str) -> RawPoint:
        if not isinstance(item, dict):
            raise reject(self.name, zone, f"a point must be an object, got {item!r}")
        return RawPoint(
            start=parse_utc(
                item.get("point_time"), provider=self.name, zone=zone, field="point_time"
            ),
            g_per_kwh=to_g_per_kwh(item.get("value"), unit, provider=self.name, zone=zone),
        )
