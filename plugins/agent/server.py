"""``UnixSocketAgentServer``: the node agent's JSON API over a Unix socket (stdlib HTTP).

Only processes that can open the socket file (mode 0660 by default: the agent's user and group)
can ask for caps; the socket is the credential, so no token is needed.

    GET  /status           {"gpus": [{index, uuid, name, limit_w, default_limit_w, min_w, max_w}],
                            "leases": [Lease...]}
    POST /leases           CapRequest  → {"leases": [...]}      (all or nothing)
    POST /leases/renew     RenewRequest → {"leases": [...]}     (empty: take the lease again)
    POST /leases/release   {"job_id": J} → {"restored": [gpu...]}

Errors answer ``{"error": kind, "message": ...}`` with 400 (bad request), 403 (no
permission), 409 (lease conflict, MIG), 500 (other power faults).
"""

from __future__ import annotations

import json
import os
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from plugins.agent.leases import CapRequest, RenewRequest
from plugins.agent.node import NodeAgent
from scheduler.errors import (
    LeaseConflictError,
    PowerError,
    PowerNotSupportedError,
    PowerPermissionError,
)

SOCKET_NAME = "agent.sock"


class ReleaseRequest(BaseModel):
    """End every lease of a job."""

    job_id: str = Field(min_length=1)


def status_document(agent: NodeAgent) -> dict[str, Any]:
    """The status JSON: GPUs with current and default limits in watts, live leases."""
    gpus = [
        {
            "index": gpu.index,
            "uuid": gpu.uuid,
            "name": gpu.name,
            "limit_w": agent.limit_mw(gpu.index) / 1000,
            "default_limit_w": gpu.default_limit_mw / 1000,
            "min_w": gpu.min_limit_mw / 1000,
            "max_w": gpu.max_limit_mw / 1000,
        }
        for gpu in agent.gpus()
    ]
    leases = [lease.model_dump(mode="json") for lease in agent.leases()]
    return {"gpus": gpus, "leases": leases}


def _status_code(exc: Exception) -> int:
    if isinstance(exc, ValidationError | ValueError):
        return 400
    if isinstance(exc, PowerPermissionError):
        return 403
    if isinstance(exc, LeaseConflictError | PowerNotSupportedError):
        return 409
    return 500


class _Handler(BaseHTTPRequestHandler):
    server: UnixSocketAgentServer

    def do_GET(self) -> None:
        if self.path != "/status":
            self._reply(404, {"error": "not_found", "message": f"no route GET {self.path}"})
            return
        self._answer(lambda _body: status_document(self.server.agent))

    def do_POST(self) -> None:
        agent = self.server.agent
        routes = {
            "/leases": lambda b: {"leases": _dump(agent.cap(CapRequest.model_validate(b)))},
            "/leases/renew": lambda b: {
                "leases": _dump(agent.renew(RenewRequest.model_validate(b)))
            },
            "/leases/release": lambda b: {
                "restored": agent.release(ReleaseRequest.model_validate(b).job_id)
            },
        }
        route = routes.get(self.path)
        if route is None:
            self._reply(404, {"error": "not_found", "message": f"no route POST {self.path}"})
            return
        self._answer(route)

    def _answer(self, route: Any) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            self._reply(200, route(body))
        except (ValidationError, ValueError, PowerError) as exc:
            self._reply(_status_code(exc), {"error": type(exc).__name__, "message": str(exc)})

    def _reply(self, code: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged; the agent logs what it does."""


def _dump(leases: list[Any]) -> list[dict[str, Any]]:
    return [lease.model_dump(mode="json") for lease in leases]


class UnixSocketAgentServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves a ``NodeAgent`` on ``socket_path``; ``tick`` runs every ``tick_s`` seconds."""

    daemon_threads = True

    def __init__(
        self, agent: NodeAgent, socket_path: Path, *, tick_s: float = 1.0, mode: int = 0o660
    ) -> None:
        self.agent = agent
        self.socket_path = socket_path
        if socket_path.exists():
            socket_path.unlink()  # a stale socket from a killed agent
        super().__init__(str(socket_path), _Handler)
        os.chmod(socket_path, mode)
        self._tick_s = tick_s
        self._stopped = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="agent-tick", daemon=True)

    def start(self) -> None:
        """Serve and tick in background threads."""
        self._ticker.start()
        threading.Thread(target=self.serve_forever, name="agent-http", daemon=True).start()

    def stop(self) -> None:
        """Stop serving and ticking, and remove the socket file."""
        self._stopped.set()
        self.shutdown()
        self.server_close()
        self.socket_path.unlink(missing_ok=True)

    def _tick_loop(self) -> None:
        while not self._stopped.wait(self._tick_s):
            try:
                self.agent.tick()
            except Exception as exc:  # the ticker must outlive any one fault
                self.agent.log_fault("tick failed", exc)
