"""``ApiClient``: the CLI's HTTP client for the carbonshift REST API (``requests``).

Every failure becomes an ``ApiClientError`` carrying the API's ``{"error": {code, message}}``
(or a client-side one: ``unreachable``, ``bad_response``), so commands print one shape.
Submissions carry an idempotency key, so retrying after a lost connection cannot create a
second job.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests

from scheduler.errors import CarbonshiftError

_RETRIES = 3


class ApiClientError(CarbonshiftError):
    """The API refused a request, or could not be reached."""

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        """The error as the API's JSON error body."""
        return {"error": {"code": self.code, "message": self.message}}


class ApiClient:
    """Talks to one carbonshift server with one bearer token (or none)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        session: requests.Session | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session or requests.Session()
        self._timeout_s = timeout_s
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base_url + path
        try:
            answer = self._session.request(method, url, timeout=self._timeout_s, **kwargs)
        except requests.RequestException as exc:
            raise ApiClientError(
                "unreachable",
                f"cannot reach carbonshift at {self.base_url} ({exc.__class__.__name__}); "
                "start `carbonshift serve` or set CARBONSHIFT_URL / api.url",
            ) from exc
        return self._decode(answer)

    def _decode(self, answer: requests.Response) -> Any:
        try:
            data = answer.json()
        except ValueError:
            data = None
        if answer.ok and data is not None:
            return data
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict) and "code" in error:
            message = str(error.get("message", ""))
            raise ApiClientError(str(error["code"]), message, status=answer.status_code)
        raise ApiClientError(
            "bad_response",
            f"{answer.request.method} {answer.url} answered {answer.status_code} without a "
            "carbonshift error body; is CARBONSHIFT_URL a carbonshift server?",
            status=answer.status_code,
        )

    def submit(self, spec: Mapping[str, Any], *, idempotency_key: str | None = None) -> Any:
        """Submit a JobSpec; retried on lost connections with the same idempotency key."""
        headers = {"Idempotency-Key": idempotency_key or f"cli-{uuid.uuid4().hex}"}
        for attempt in range(_RETRIES):
            try:
                return self._send("POST", "/v1/jobs", json=dict(spec), headers=headers)
            except ApiClientError as exc:
                if exc.code != "unreachable" or attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def job(self, job_id: str) -> Any:
        """One job."""
        return self._send("GET", f"/v1/jobs/{_quote(job_id)}")

    def jobs(
        self, *, states: Sequence[str] = (), limit: int = 50, offset: int = 0, **filters: str
    ) -> Any:
        """One page of jobs."""
        params: list[tuple[str, str | int]] = [("state", state) for state in states]
        params += [(key, value) for key, value in filters.items() if value]
        params += [("limit", limit), ("offset", offset)]
        return self._send("GET", "/v1/jobs", params=params)

    def cancel(self, job_id: str) -> Any:
        """Cancel a job."""
        return self._send("DELETE", f"/v1/jobs/{_quote(job_id)}")

    def set_caps(self, job_id: str, caps: Mapping[str, float | None]) -> Any:
        """Change a job's caps."""
        return self._send("PATCH", f"/v1/jobs/{_quote(job_id)}/caps", json=dict(caps))

    def savings(self, group_by: str) -> Any:
        """The savings report grouped by ``group_by``."""
        return self._send("GET", "/v1/savings", params={"group_by": group_by})


def _quote(job_id: str) -> str:
    return quote(job_id, safe="")
