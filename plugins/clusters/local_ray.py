"""``LocalRayHead``: the embedded default cluster, one local Ray head with logical GPUs.

``carbonshift serve`` (and ``carbonshift demo``) start it when no cluster is configured
(``cluster: {kind: ray-local}``). Every port is chosen free at start, because the machine
runs other services (a Redis on 6379, Ray's default GCS port, say) and perhaps other Ray
heads; nothing is read from or written to ``RAY_ADDRESS``. The head runs with token
authentication and a fresh random token that only this process knows. Its temp dir is its
own, so stopping it touches no other Ray instance (``ray stop`` would kill them all).

Use it as a context manager, or ``start()``/``stop()``::

    with LocalRayHead(num_gpus=8) as head:
        cluster = RayCluster(region="local", address=head.address, token=head.token)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import requests
from pydantic import SecretStr

from scheduler.errors import ClusterUnavailable

#: The ``ray start`` options that take a port; each gets a free one.
PORT_OPTIONS = (
    "port",
    "dashboard-port",
    "node-manager-port",
    "object-manager-port",
    "ray-client-server-port",
    "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port",
    "runtime-env-agent-port",
    "metrics-export-port",
)
OBJECT_STORE_BYTES = 100 * 1024 * 1024


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class LocalRayHead:
    """A private Ray head on this machine, with ``num_gpus`` logical GPUs."""

    def __init__(self, *, num_gpus: int = 8, num_cpus: int = 2, start_timeout_s: float = 120.0):
        self.num_gpus = num_gpus
        self.num_cpus = num_cpus
        self.start_timeout_s = start_timeout_s
        self.token = SecretStr(secrets.token_hex(24))
        self._process: subprocess.Popen[bytes] | None = None
        self._temp_dir: Path | None = None
        self._dashboard_port = 0
        self._keep_logs = False

    @property
    def address(self) -> str:
        """The dashboard (Jobs API) address."""
        return f"http://127.0.0.1:{self._dashboard_port}"

    @property
    def log_file(self) -> Path | None:
        """Where ``ray start`` writes its output (kept until ``stop``)."""
        return None if self._temp_dir is None else self._temp_dir / "ray-start.log"

    def _command(self, ports: dict[str, int]) -> list[str]:
        ray = Path(sys.executable).with_name("ray")
        command = [str(ray) if ray.exists() else "ray", "start", "--head", "--block"]
        command += [f"--{option}={port}" for option, port in ports.items()]
        return [
            *command,
            "--disable-usage-stats",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            "--node-ip-address=127.0.0.1",
            f"--num-gpus={self.num_gpus}",
            f"--num-cpus={self.num_cpus}",
            f"--object-store-memory={OBJECT_STORE_BYTES}",
            f"--temp-dir={self._temp_dir}",
        ]

    def start(self) -> LocalRayHead:
        """Start the head and wait until its Jobs API answers and its node is alive.

        Raises:
            ClusterUnavailable: Ray did not come up in time (the message names its log).
        """
        self._temp_dir = Path(tempfile.mkdtemp(prefix="cs-ray-"))
        ports = dict(zip(PORT_OPTIONS, free_ports(len(PORT_OPTIONS)), strict=True))
        self._dashboard_port = ports["dashboard-port"]
        secret = self.token.get_secret_value()
        env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secret}
        env.pop("RAY_ADDRESS", None)
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        assert self.log_file is not None
        with self.log_file.open("wb") as log:
            self._process = subprocess.Popen(
                self._command(ports),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as one
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        headers = {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                break
            try:
                nodes = requests.get(
                    f"{self.address}/api/v0/nodes", headers=headers, timeout=5
                ).json()["data"]["result"]["result"]
                if any(node["state"] == "ALIVE" for node in nodes):
                    return
            except (OSError, ValueError, KeyError, TypeError):
                pass
            time.sleep(0.5)
        self._keep_logs = True
        self.stop()
        raise ClusterUnavailable(
            f"the local Ray head did not start within {self.start_timeout_s:g} s; "
            f"see {self.log_file} (kept for inspection) or configure an existing cluster"
        )

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the head and every process it started; remove its temp dir."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # ray start drains, then stops its children
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(grace_s)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # whatever is left of our group
            process.wait()
        if self._temp_dir is not None and not self._keep_logs:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalRayHead:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
