"""``JobPowerRunner``: meters a job's GPUs, holds its power-cap lease, enforces its energy cap.

Contract for whoever launches jobs (the Ray dispatch wraps a job's entrypoint with
``carbonshift agent wrap --job J --attempt N [caps] -- ARGV...``):

* GPUs: the job's GPUs are ``CUDA_VISIBLE_DEVICES`` as Ray sets it (indices, or ``GPU-`` uuids).
  MIG instance ids are refused: metering and capping need whole GPUs.
* Power cap: with ``power_cap_w`` the runner takes a lease from the node agent for all the
  job's GPUs (holder = the runner's pid, TTL a few sampling periods), renews it every sample and
  takes it again if the agent lost it (agent restart). The lease ends when the job ends; if the
  runner is SIGKILLed the agent notices its pid is gone, or the lease expires.
* Every ``sample_s`` seconds it reads each GPU's cumulative energy counter; the job's energy is
  the sum of the increases since the start. It asks ``caps()`` for the current caps, so a cap
  changed through the API applies within one sampling period.
* Energy cap policies: ``stop`` terminates the job once the budget is spent (ends CAPPED);
  ``throttle`` lowers the power limit one step per sample while the GPUs draw more than the
  remaining budget allows until the estimated end, and stops the job when the budget is spent
  anyway; ``notify`` only records that the budget was exceeded.
* Report: an ``EnergyReport``, written as JSON to ``--report FILE`` (if given) and printed as
  the last stdout line, ``CARBONSHIFT_ENERGY {json}``. ``final_state`` is SUCCEEDED, FAILED or
  CAPPED; ``energy_cap_outcome`` matches ``LedgerEntry.energy_cap_outcome``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from pydantic import Field

from plugins.agent.client import AgentClient
from plugins.durable_file import write_durably
from scheduler.model import EnergySource, Frozen, GpuInfo, UtcDatetime
from scheduler.protocols import Clock, PowerBackend

EnergyPolicy = Literal["stop", "throttle", "notify"]
Outcome = Literal["none", "within", "stopped", "throttled", "notified"]
REPORT_PREFIX = "CARBONSHIFT_ENERGY "
MJ_PER_KWH = 3_600_000_000


@dataclass(frozen=True, kw_only=True)
class JobCaps:
    """The caps in force now; read again at every sample."""

    power_cap_w: float | None = None
    energy_cap_kwh: float | None = None
    policy: EnergyPolicy = "stop"


class JobProcess(Protocol):
    """The job's process (``subprocess.Popen`` is one)."""

    def poll(self) -> int | None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


class EnergyReport(Frozen):
    """What the runner measured; the service reads it from the report file or stdout."""

    job_id: str
    attempt: int = Field(ge=0)
    gpu_uuids: tuple[str, ...]
    energy_mj: int = Field(ge=0)
    energy_source: EnergySource
    started_at: UtcDatetime
    ended_at: UtcDatetime
    exit_code: int | None
    final_state: Literal["SUCCEEDED", "FAILED", "CAPPED"]
    energy_cap_outcome: Outcome
    power_cap_w: float | None
    lowest_limit_w: float | None = None


def resolve_gpus(visible: str, gpus: Sequence[GpuInfo]) -> list[int]:
    """GPU indices from ``CUDA_VISIBLE_DEVICES`` (indices or ``GPU-`` uuids); ValueError else."""
    by_uuid = {gpu.uuid: gpu.index for gpu in gpus}
    indices = []
    for item in (part.strip() for part in visible.split(",") if part.strip()):
        if item.isdigit() and int(item) < len(gpus):
            indices.append(int(item))
        elif item in by_uuid:
            indices.append(by_uuid[item])
        else:
            raise ValueError(
                f"CUDA_VISIBLE_DEVICES entry {item!r} is not a GPU of this node (MIG instances "
                f"cannot be metered or capped per job); known: {sorted(by_uuid)}"
            )
    return indices


class JobPowerRunner:
    """One attempt's metering, lease and energy-cap enforcement; call ``sample`` periodically."""

    def __init__(
        self,
        *,
        job_id: str,
        attempt: int,
        gpus: Sequence[int],
        meter: PowerBackend,
        agent: AgentClient | None,
        clock: Clock,
        caps: Callable[[], JobCaps],
        estimated_end: datetime | None = None,
        sample_s: float = 5.0,
        holder_pid: int | None = None,
        kill_grace_s: float = 30.0,
    ) -> None:
        self.job_id, self.attempt, self.gpus = job_id, attempt, list(gpus)
        self._meter, self._agent, self._clock, self._caps = meter, agent, clock, caps
        self._estimated_end = estimated_end
        self._ttl_s = 4 * sample_s
        self._holder_pid = holder_pid
        self._kill_grace_s = kill_grace_s
        self._stopped_at: datetime | None = None
        self._info = {gpu.index: gpu for gpu in meter.gpus()}
        self._started_at = clock.now()
        self._last = {gpu: meter.energy_mj(gpu) for gpu in self.gpus}
        self._energy_mj = 0
        self._limit_mw: int | None = None
        self._lowest_mw: int | None = None
        self._throttled = self._notified = self._stopped = False

    @property
    def energy_mj(self) -> int:
        """The job's energy so far."""
        return self._energy_mj

    @property
    def stopped(self) -> bool:
        """True once the energy cap has terminated the job."""
        return self._stopped

    def prepare(self) -> None:
        """Take the power-cap lease before the job starts (no energy policy yet)."""
        if self.gpus:
            self._hold(self._target_limit_mw(self._caps()))

    def sample(self, process: JobProcess) -> None:
        """Read the counters, hold the lease at the right limit, apply the energy policy."""
        if not self.gpus:
            return
        self._read_energy()
        self._kill_if_ignored(process)
        caps = self._caps()
        target = self._target_limit_mw(caps)
        if caps.energy_cap_kwh is not None and not self._stopped:
            target = self._apply_energy_cap(caps, target, process)
        self._hold(target)

    def finish(self, exit_code: int | None) -> EnergyReport:
        """Final reading, lease released, the report."""
        self._read_energy()
        if self._agent is not None and self._limit_mw is not None:
            self._agent.release(self.job_id)
        caps = self._caps()
        return EnergyReport(
            job_id=self.job_id,
            attempt=self.attempt,
            gpu_uuids=tuple(self._info[gpu].uuid for gpu in self.gpus),
            energy_mj=self._energy_mj,
            energy_source=self._source(),
            started_at=self._started_at,
            ended_at=self._clock.now(),
            exit_code=exit_code,
            final_state="CAPPED" if self._stopped else "SUCCEEDED" if exit_code == 0 else "FAILED",
            energy_cap_outcome=self._outcome(caps),
            power_cap_w=caps.power_cap_w,
            lowest_limit_w=None if self._lowest_mw is None else self._lowest_mw / 1000,
        )

    def _kill_if_ignored(self, process: JobProcess) -> None:
        if self._stopped_at is None:
            return
        if (self._clock.now() - self._stopped_at).total_seconds() >= self._kill_grace_s:
            process.kill()

    def _read_energy(self) -> None:
        for gpu in self.gpus:
            now = self._meter.energy_mj(gpu)
            self._energy_mj += max(0, now - self._last[gpu])  # a counter reset adds nothing
            self._last[gpu] = now

    def _target_limit_mw(self, caps: JobCaps) -> int | None:
        wanted = None if caps.power_cap_w is None else round(caps.power_cap_w * 1000)
        if self._throttled and self._limit_mw is not None:
            wanted = self._limit_mw if wanted is None else min(wanted, self._limit_mw)
        return None if wanted is None else self._clamp(wanted)

    def _apply_energy_cap(
        self, caps: JobCaps, target: int | None, process: JobProcess
    ) -> int | None:
        budget_mj = (caps.energy_cap_kwh or 0) * MJ_PER_KWH
        if self._energy_mj >= budget_mj:
            if caps.policy == "notify":
                self._notified = True
                return target
            self._stopped, self._stopped_at = True, self._clock.now()
            process.terminate()
            return target
        if caps.policy != "throttle" or self._estimated_end is None:
            return target
        remaining_s = (self._estimated_end - self._clock.now()).total_seconds()
        allowed_mw = (budget_mj - self._energy_mj) / max(remaining_s, 1.0) / len(self.gpus)
        drawing_mw = max(self._meter.power_mw(gpu) for gpu in self.gpus)
        if drawing_mw <= allowed_mw:
            return target
        current = target or max(self._meter.get_power_limit_mw(gpu) for gpu in self.gpus)
        self._throttled = True
        return self._clamp(current - self._step_mw())

    def _hold(self, target: int | None) -> None:
        if self._agent is None or target is None:
            return
        if target != self._limit_mw:
            self._cap(target)
        elif not self._agent.renew(job_id=self.job_id, attempt=self.attempt, ttl_s=self._ttl_s):
            self._cap(target)  # the agent restarted and restored the limit: take it again

    def _cap(self, limit_mw: int) -> None:
        assert self._agent is not None
        leases = self._agent.cap(
            gpus=self.gpus,
            limit_mw=limit_mw,
            job_id=self.job_id,
            attempt=self.attempt,
            ttl_s=self._ttl_s,
            holder_pid=self._holder_pid,
        )
        self._limit_mw = limit_mw
        enforced = min(lease.limit_mw for lease in leases)
        self._lowest_mw = enforced if self._lowest_mw is None else min(self._lowest_mw, enforced)

    def _step_mw(self) -> int:
        info = self._info[self.gpus[0]]
        return max(1000, (info.max_limit_mw - info.min_limit_mw) // 10)

    def _clamp(self, limit_mw: int) -> int:
        low = max(self._info[gpu].min_limit_mw for gpu in self.gpus)
        high = min(self._info[gpu].max_limit_mw for gpu in self.gpus)
        return max(low, min(high, limit_mw))

    def _source(self) -> EnergySource:
        if not self.gpus:
            return "estimated"
        source = getattr(self._meter, "energy_source", None)
        return source(self.gpus[0]) if callable(source) else "nvml_counter"

    def _outcome(self, caps: JobCaps) -> Outcome:
        if caps.energy_cap_kwh is None:
            return "none"
        if self._stopped:
            return "stopped"
        if self._notified:
            return "notified"
        return "throttled" if self._throttled else "within"


def run_until_exit(
    runner: JobPowerRunner,
    process: JobProcess,
    *,
    sample_s: float,
    sleep: Callable[[float], None],
) -> EnergyReport:
    """Sample every ``sample_s`` seconds until the job exits; return the report."""
    while (code := process.poll()) is None:
        sleep(sample_s)
        runner.sample(process)
    return runner.finish(code)


def caps_from_file(path: Path | None, default: JobCaps) -> Callable[[], JobCaps]:
    """A caps source: ``path`` (JSON of ``JobCaps`` fields) when it exists, else ``default``.

    Whoever changes a running job's caps rewrites the file; the runner reads it every sample.
    A malformed file keeps the last good caps (the job is not killed over a bad write).
    """
    last = [default]

    def read() -> JobCaps:
        if path is None:
            return default
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            last[0] = JobCaps(**{**default.__dict__, **data})
        except FileNotFoundError:
            return default
        except (ValueError, TypeError):
            return last[0]
        return last[0]

    return read


def publish(report: EnergyReport, path: Path | None, echo: Callable[[str], None]) -> None:
    """Write the report durably to ``path`` (if any) and echo it as the last stdout line."""
    text = report.model_dump_json()
    if path is not None:
        write_durably(path, text)
    echo(REPORT_PREFIX + text)
