"""``run_agent``: the node agent process — recover, serve, and restore everything on SIGTERM.

One agent per state directory: an exclusive lock on ``STATE_DIR/agent.lock`` refuses a second
one (two agents would each believe they own the originals).
"""

from __future__ import annotations

import fcntl
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from plugins.agent.leases import FileLeaseJournal
from plugins.agent.node import NodeAgent
from plugins.agent.server import SOCKET_NAME, UnixSocketAgentServer
from scheduler.errors import PowerError
from scheduler.protocols import Clock, PowerBackend

JOURNAL_NAME = "leases.json"
LOCK_NAME = "agent.lock"


def run_agent(
    *,
    backend: PowerBackend,
    state_dir: Path,
    clock: Clock,
    tick_s: float = 1.0,
    ready: Callable[[str], None] = print,
) -> None:
    """Run until SIGTERM or SIGINT; then end every lease and restore every limit.

    Raises:
        PowerError: another agent already runs on ``state_dir``.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / LOCK_NAME).open("a") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise PowerError(
                f"another node agent already runs on {state_dir}; stop it or use another "
                "--state-dir"
            ) from exc
        agent = NodeAgent(
            backend=backend, journal=FileLeaseJournal(state_dir / JOURNAL_NAME), clock=clock
        )
        restored = agent.recover()
        server = UnixSocketAgentServer(agent, state_dir / SOCKET_NAME, tick_s=tick_s)
        stop = threading.Event()
        _on_signals(stop)
        server.start()
        ready(
            f"agent ready on {server.socket_path} ({len(agent.gpus())} GPUs; restored {restored})"
        )
        stop.wait()
        server.stop()
        agent.shutdown()


def _on_signals(stop: threading.Event) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
