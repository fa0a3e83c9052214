"""``HttpClient``: the one HTTP path of every carbon-signal provider.

Over a ``requests.Session`` (injectable, so tests drive it with ``responses``) it adds
connect/read timeouts, retries with exponential backoff and full jitter on 5xx, 429 and
connection faults (honouring ``Retry-After``), a request budget per rolling window, and the
translation of every failure into ``scheduler.errors``:

* ``ForecastUnavailable`` (transient): timeout, connection error, 5xx, 429, budget spent;
* ``ForecastError`` (permanent): 400/404 (bad zone or query), 401/403 (bad key);
* ``ForecastRejected``: HTTP 200 whose body is empty or not JSON.

Messages name the provider, the zone and the HTTP status; secrets given to the client are
replaced by ``***`` wherever they could appear (URLs, bodies).
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from pydantic import Field

from scheduler.errors import ForecastError, ForecastRejected, ForecastUnavailable
from scheduler.protocols import Clock
from scheduler.registry import PluginOptions

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PERMANENT_HINTS = {
    400: "the query was refused; check the zone id and the time range",
    401: "the credentials were refused; check the API key/password in the settings",
    403: "the key may not access this zone or endpoint; check the plan of the account",
    404: "unknown zone or endpoint; check the zone id",
    422: "the query was refused; check the zone id and the time range",
}


class HttpOptions(PluginOptions):
    """Options every HTTP provider shares (timeouts, retries, request budget)."""

    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=20.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=10, description="tries per request")
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0, description="longest wait between tries")
    budget_requests: int = Field(default=500, ge=1, description="requests per budget window")
    budget_window_s: int = Field(default=3600, ge=1)

    def policy(self) -> HttpPolicy:
        """These options as the client's policy."""
        return HttpPolicy(**self.model_dump(include=set(HttpOptions.model_fields)))


@dataclass(frozen=True, kw_only=True)
class HttpPolicy:
    """Timeouts, retries and budget of one provider's client."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    max_attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    budget_requests: int = 500
    budget_window_s: int = 3600


class HttpClient:
    """GET JSON with retries, backoff, a budget and error translation, for one provider."""

    def __init__(
        self,
        *,
        provider: str,
        clock: Clock,
        session: requests.Session | None = None,
        policy: HttpPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        self.provider = provider
        self._clock = clock
        self._session = session if session is not None else requests.Session()
        self._policy = policy or HttpPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311  (jitter, not cryptography)
        self._secrets = [secret for secret in secrets if secret]
        self._sent: deque[datetime] = deque()
        self._budget_lock = threading.Lock()

    def add_secret(self, secret: str) -> None:
        """Redact ``secret`` (a token obtained at run time) from every later message."""
        if secret:
            self._secrets.append(secret)

    def requests_used(self) -> int:
        """Requests sent within the current budget window."""
        with self._budget_lock:
            self._forget_old(self._clock.now())
            return len(self._sent)

    def get_json(
        self,
        url: str,
        *,
        zone: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        on_unauthorized: Callable[[], Mapping[str, str]] | None = None,
    ) -> Any:
        """The decoded JSON body of ``GET url``; see the module docstring for the errors.

        With ``on_unauthorized``, a 401 calls it once for fresh headers and tries again.
        """
        response = self._send(url, zone=zone, params=params, headers=headers, auth=auth)
        if response.status_code == 401 and on_unauthorized is not None:
            response = self._send(url, zone=zone, params=params, headers=on_unauthorized())
        return self._decode(response, zone)

    def _send(
        self,
        url: str,
        *,
        zone: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        auth: tuple[str, str] | None = None,
    ) -> requests.Response:
        """One logical request: tries until success, a permanent answer or the last try."""
        for attempt in range(1, self._policy.max_attempts + 1):
            self._spend(zone)
            last = attempt == self._policy.max_attempts
            try:
                response = self._session.get(
                    url,
                    params=params,
                    headers=dict(headers or {}),
                    auth=auth,
                    timeout=(self._policy.connect_timeout_s, self._policy.read_timeout_s),
                )
            except requests.RequestException as exc:
                if last:
                    raise ForecastUnavailable(
                        f"{self.provider}: zone {zone}: no answer after {attempt} tries "
                        f"({self._redact(type(exc).__name__ + ': ' + str(exc))}); "
                        "the next provider in the chain fills in"
                    ) from exc
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code not in RETRY_STATUSES:
                return response
            if last:
                raise self._unavailable(response, zone, attempt)
            self._sleep(self._wait_before_retry(response, attempt, zone))
        raise AssertionError("unreachable: the last try returns or raises")  # pragma: no cover

    def _spend(self, zone: str) -> None:
        now = self._clock.now()
        with self._budget_lock:
            self._forget_old(now)
            if len(self._sent) < self._policy.budget_requests:
                self._sent.append(now)
                return
            reset = self._sent[0] + timedelta(seconds=self._policy.budget_window_s)
        raise ForecastUnavailable(
            f"{self.provider}: zone {zone}: request budget of "
            f"{self._policy.budget_requests} per {self._policy.budget_window_s} s is spent "
            f"until {reset.isoformat()}; raise budget_requests or refresh less often"
        )

    def _forget_old(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=self._policy.budget_window_s)
        while self._sent and self._sent[0] <= horizon:
            self._sent.popleft()

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base × 2^(attempt−1))]."""
        ceiling = min(self._policy.backoff_max_s, self._policy.backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0.0, ceiling)

    def _wait_before_retry(self, response: requests.Response, attempt: int, zone: str) -> float:
        retry_after = _retry_after_s(response.headers.get("Retry-After"), self._clock.now())
        if retry_after is None:
            return self._backoff(attempt)
        if retry_after > self._policy.backoff_max_s:
            raise ForecastUnavailable(
                f"{self.provider}: zone {zone}: HTTP {response.status_code}, the provider asks "
                f"to wait {retry_after:.0f} s (Retry-After), longer than backoff_max_s "
                f"{self._policy.backoff_max_s:g}; the next provider in the chain fills in"
            )
        return retry_after

    def _unavailable(self, response: requests.Response, zone: str, tries: int) -> Exception:
        return ForecastUnavailable(
            f"{self.provider}: zone {zone}: HTTP {response.status_code} after {tries} tries "
            f"({self._body_hint(response)}); the next provider in the chain fills in"
        )

    def _decode(self, response: requests.Response, zone: str) -> Any:
        status = response.status_code
        if status >= 400:
            hint = PERMANENT_HINTS.get(status, "the provider refused the request")
            raise ForecastError(
                f"{self.provider}: zone {zone}: HTTP {status} ({self._body_hint(response)}); {hint}"
            )
        if not response.content.strip():
            raise ForecastRejected(
                f"{self.provider}: zone {zone}: HTTP {status} with an empty body; "
                "the provider sent no data, try again later or use another provider"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ForecastRejected(
                f"{self.provider}: zone {zone}: HTTP {status} body is not JSON "
                f"({self._body_hint(response)}); check base_url points at the API"
            ) from exc

    def _body_hint(self, response: requests.Response) -> str:
        """The provider's own error message if it sent one, shortened and redacted."""
        text = response.text.strip().replace("\n", " ")
        return self._redact(text[:200]) if text else "no body"

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
