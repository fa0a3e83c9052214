"""``AgentClient``: talks to the node agent over its Unix socket.

The agent is found through ``--state-dir`` (its socket is ``STATE_DIR/agent.sock``) or an
address ``unix:///path/to/agent.sock``. Agent errors come back as the same ``scheduler.errors``
classes the agent raised, so callers handle one hierarchy.
"""

from __future__ import annotations

import http.client
import json
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from plugins.agent.leases import Lease
from plugins.agent.server import SOCKET_NAME
from scheduler.errors import (
    GpuLostError,
    LeaseConflictError,
    NvmlNotAvailableError,
    PowerError,
    PowerNotSupportedError,
    PowerPermissionError,
)

_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (
        GpuLostError,
        LeaseConflictError,
        NvmlNotAvailableError,
        PowerNotSupportedError,
        PowerPermissionError,
    )
}


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


class AgentClient:
    """Status, cap, renew and release against one node agent."""

    def __init__(self, socket_path: Path, *, timeout_s: float = 10.0) -> None:
        self.socket_path = socket_path
        self._timeout_s = timeout_s

    @classmethod
    def find(cls, *, state_dir: Path | None = None, address: str | None = None) -> AgentClient:
        """The agent of ``state_dir``, or at ``address`` (``unix:///…/agent.sock``)."""
        if address:
            if not address.startswith("unix://"):
                raise ValueError(
                    f"agent address {address!r} is not supported; use unix:///path/agent.sock "
                    "or --state-dir"
                )
            return cls(Path(address.removeprefix("unix://")))
        if state_dir is None:
            raise ValueError("say where the agent is: --state-dir DIR or --agent unix:///…")
        return cls(state_dir / SOCKET_NAME)

    def status(self) -> dict[str, Any]:
        """GPUs and live leases (see ``plugins.agent.server``)."""
        return self._call("GET", "/status", None)

    def cap(
        self,
        *,
        gpus: list[int],
        limit_mw: int,
        job_id: str,
        attempt: int = 0,
        ttl_s: float,
        holder_pid: int | None = None,
        whole_gpu: bool = False,
    ) -> list[Lease]:
        """Take (or change) the job's lease on ``gpus``; all or nothing."""
        body = {
            "gpus": gpus,
            "limit_mw": limit_mw,
            "job_id": job_id,
            "attempt": attempt,
            "ttl_s": ttl_s,
            "holder_pid": holder_pid,
            "whole_gpu": whole_gpu,
        }
        return _leases(self._call("POST", "/leases", body))

    def renew(self, *, job_id: str, attempt: int = 0, ttl_s: float) -> list[Lease]:
        """Extend the attempt's leases; empty when the agent holds none for it."""
        body = {"job_id": job_id, "attempt": attempt, "ttl_s": ttl_s}
        return _leases(self._call("POST", "/leases/renew", body))

    def release(self, job_id: str) -> list[int]:
        """End the job's leases; the GPUs whose original limit came back."""
        restored: list[int] = self._call("POST", "/leases/release", {"job_id": job_id})["restored"]
        return restored

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        connection = _UnixConnection(self.socket_path, self._timeout_s)
        try:
            payload = None if body is None else json.dumps(body)
            headers = {"Content-Type": "application/json"}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data: dict[str, Any] = json.loads(response.read() or b"{}")
        except OSError as exc:
            raise PowerError(
                f"cannot reach the node agent at {self.socket_path} ({exc}); start it with "
                "`carbonshift agent run --state-dir DIR` or check --state-dir / --agent"
            ) from exc
        finally:
            connection.close()
        if response.status != 200:
            raise _error(response.status, data)
        return data


def _leases(data: dict[str, Any]) -> list[Lease]:
    return [Lease.model_validate(item) for item in data["leases"]]


def _error(status: int, data: dict[str, Any]) -> Exception:
    message = str(data.get("message", data))
    if status == 400:
        return ValueError(message)
    return _ERRORS.get(str(data.get("error")), PowerError)(message)


def expires_in_s(lease: Lease, now: datetime) -> float:
    """Seconds until ``lease`` expires (negative when it has)."""
    return (lease.expires_at - now).total_seconds()
