"""``EmbeddedAgent``: the node agent that ``carbonshift serve`` starts beside its embedded Ray.

On one machine with the defaults (``power.kind: simulated``, the embedded ``ray-local``
cluster), capped jobs run under the per-job runner, which needs a node agent on the same node.
The service starts one on first use: ``carbonshift agent run --backend simulated --state-dir D
--gpus N`` as a child process, where ``D`` is the agent state directory the runner is told
(``data_dir/agent`` by default) and ``N`` the embedded Ray's logical GPUs. If an agent already
answers on ``D`` (one started by hand, or by a systemd unit), it is used and left alone.
``stop`` sends SIGTERM, on which the agent restores every limit it changed.

On real GPU nodes run the agent yourself (``carbonshift agent run --backend nvml``); the
service never starts an NVML agent.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from plugins.agent.client import AgentClient
from scheduler.errors import PowerError

START_TIMEOUT_S = 30.0


class EmbeddedAgent:
    """Starts (once, on demand) and stops a simulated-GPU node agent on ``state_dir``."""

    def __init__(self, *, program: Sequence[str], state_dir: Path, gpus: int) -> None:
        self._program = tuple(program)
        self.state_dir = state_dir
        self._gpus = gpus
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def answers(self) -> bool:
        """Whether an agent serves ``state_dir`` now."""
        try:
            AgentClient.find(state_dir=self.state_dir).status()
        except PowerError:
            return False
        return True

    def ensure_started(self) -> None:
        """Start the agent unless one answers; wait until it does.

        Raises:
            PowerError: it did not answer within ``START_TIMEOUT_S`` (its output says why).
        """
        with self._lock:
            if (self._process is not None and self._process.poll() is None) or self.answers():
                return
            self.state_dir.mkdir(parents=True, exist_ok=True)
            argv = [*self._program, "agent", "run", "--backend", "simulated"]
            argv += ["--state-dir", str(self.state_dir), "--gpus", str(self._gpus)]
            log = (self.state_dir / "agent.log").open("ab")
            self._process = subprocess.Popen(argv, stdout=log, stderr=log)
            log.close()
            self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.answers():
                return
            if self._process is not None and self._process.poll() is not None:
                break
            time.sleep(0.1)
        raise PowerError(
            f"the embedded node agent on {self.state_dir} did not start; see "
            f"{self.state_dir / 'agent.log'}, or run `carbonshift agent run --state-dir "
            f"{self.state_dir}` yourself"
        )

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the agent this object started (it restores every limit) and wait for it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
