"""Request limits: submissions per minute per token, and the size of a request body.

``SubmitRateLimiter`` is a token bucket per caller on the injected clock: a burst of up to
``per_minute`` submissions, refilled at ``per_minute / 60`` per second. A refused submission
learns after how many seconds the next one fits (``Retry-After``).

``BodySizeLimit`` is plain ASGI middleware: it refuses a declared ``Content-Length`` over
the limit before reading anything, and stops reading a chunked body once it grows past it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler.api.errors import ApiError, error_response
from scheduler.protocols import Clock


@dataclass
class _Bucket:
    level: float
    at: datetime


class SubmitRateLimiter:
    """A token bucket per caller; ``acquire`` answers None (allowed) or seconds to wait."""

    def __init__(self, per_minute: int, *, clock: Clock) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1 (got {per_minute})")
        self._capacity = float(per_minute)
        self._rate_per_s = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, caller: str) -> int | None:
        """Take one submission from ``caller``'s bucket, or return whole seconds to wait."""
        now = self._clock.now()
        with self._lock:
            bucket = self._buckets.setdefault(caller, _Bucket(level=self._capacity, at=now))
            elapsed_s = max((now - bucket.at).total_seconds(), 0.0)
            bucket.level = min(self._capacity, bucket.level + elapsed_s * self._rate_per_s)
            bucket.at = now
            if bucket.level >= 1.0:
                bucket.level -= 1.0
                return None
            return max(1, math.ceil((1.0 - bucket.level) / self._rate_per_s))


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413,
        "body_too_large",
        f"request body is larger than {max_bytes} bytes; send a smaller body "
        "(labels and entrypoint are the usual culprits)",
    )


class BodySizeLimit:
    """Refuse request bodies larger than ``max_bytes`` with a JSON 413.

    A body that grows past the limit while it is read raises ``ApiError`` inside the app,
    where the error handlers turn it into the same 413.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count the bytes actually received."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            error = _too_large(self._max_bytes)
            response = error_response(error.status, error.code, error.message)
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    raise _too_large(self._max_bytes)
            return message

        await self._app(scope, counting_receive, send)
