"""The one exception hierarchy of carbonshift.

Faults are exceptions; expected outcomes (no green window yet, deadline infeasible) are
``Decision`` values and never appear here. Adapters translate foreign errors (HTTP, SQL, Ray,
NVML) into these classes at the edge with ``raise ... from``, so callers catch carbonshift
errors only. Every message says what was wrong, with the offending value, and what to do.

::

    CarbonshiftError
    ├── ConfigError                    settings file or environment is invalid
    │   ├── UnknownPluginError         a ``kind`` names no registered plugin
    │   └── ScenarioError              a jobs, carbon-trace or regions file is malformed
    ├── IllegalTransitionError         a job state change the state machine forbids
    ├── ForecastError                  permanent carbon-signal fault (bad zone, bad key)
    │   ├── ForecastUnavailable        transient: provider down, timeout, rate limited
    │   └── ForecastRejected           payload failed validation (NaN, gaps, sentinels)
    ├── StoreError                     job store fault
    │   ├── JobNotFoundError           no job with that id (for this caller)
    │   ├── ConcurrentUpdateError      a compare-and-set lost: another writer moved the job
    │   ├── IdempotencyConflictError   same idempotency key, different body
    │   └── TokenNotFoundError         no API token with that id
    ├── ClusterError                   permanent cluster fault (job rejected by Ray)
    │   └── ClusterUnavailable         transient: cluster unreachable, supervisor died
    ├── PowerError                     GPU power management fault
    │   ├── NvmlNotAvailableError      no NVIDIA driver or GPU on this node
    │   ├── PowerPermissionError       not allowed to change the limit (needs CAP_SYS_ADMIN)
    │   ├── PowerNotSupportedError     the GPU does not support the operation
    │   ├── GpuLostError               the GPU fell off the bus
    │   └── LeaseConflictError         the GPU's power limit is leased to another job
    ├── LedgerError                    ledger fault
    │   └── LedgerIntegrityError       the hash chain does not verify
    ├── SchedulerLockedError           another scheduler instance holds this database
    ├── ScheduleViolationError         a simulated schedule breaks a deadline or a capacity
    └── OracleLimitError               HiGHS found no answer for the oracle within its limit
"""

from __future__ import annotations


class CarbonshiftError(Exception):
    """Root of every fault carbonshift raises."""


class ConfigError(CarbonshiftError):
    """The settings file or environment is invalid; the message lists every problem."""


class UnknownPluginError(ConfigError):
    """A settings section's ``kind`` names no registered plugin."""


class ScenarioError(ConfigError):
    """An input file of a simulation or trace replay is malformed; names file, line and fix."""


class IllegalTransitionError(CarbonshiftError):
    """A job state change that the state machine does not allow."""


class ForecastError(CarbonshiftError):
    """A permanent carbon-signal fault: retrying the same request will not help."""


class ForecastUnavailable(ForecastError):  # noqa: N818  (a state, like httpx's TimeoutException)
    """A transient carbon-signal fault: the next provider in the chain should fill in."""


class ForecastRejected(ForecastError):  # noqa: N818  (reads as a verdict on the payload)
    """A provider answered, but the payload failed validation and never reaches the planner."""


class StoreError(CarbonshiftError):
    """A job store fault."""


class JobNotFoundError(StoreError):
    """No job with that id exists (or the caller may not see it)."""


class ConcurrentUpdateError(StoreError):
    """A guarded transition lost: the job was no longer in the expected state."""


class IdempotencyConflictError(StoreError):
    """A submission reused an idempotency key with a different body."""


class TokenNotFoundError(StoreError):
    """No API token has that id."""


class ClusterError(CarbonshiftError):
    """A permanent cluster fault, such as a submission the cluster refuses."""


class ClusterUnavailable(ClusterError):  # noqa: N818  (a state, like ForecastUnavailable)
    """A transient cluster fault: the attempt is retried as a new attempt."""


class PowerError(CarbonshiftError):
    """A GPU power-management fault."""


class NvmlNotAvailableError(PowerError):
    """NVML could not be loaded: no NVIDIA driver or GPU on this node."""


class PowerPermissionError(PowerError):
    """Changing the power limit needs root or CAP_SYS_ADMIN."""


class PowerNotSupportedError(PowerError):
    """The GPU does not support this power-management call."""


class GpuLostError(PowerError):
    """The GPU is no longer reachable."""


class LeaseConflictError(PowerError):
    """A power-cap lease was refused: another job holds one of the GPUs' limits."""


class LedgerError(CarbonshiftError):
    """A ledger fault."""


class LedgerIntegrityError(LedgerError):
    """The ledger's hash chain does not verify; the message names the first bad entry."""


class SchedulerLockedError(CarbonshiftError):
    """Another scheduler instance already schedules this database."""


class ScheduleViolationError(CarbonshiftError):
    """A policy produced a schedule that breaks a deadline or a region's capacity."""


class OracleLimitError(CarbonshiftError):
    """The oracle's HiGHS model has no solution within its time limit (too big to solve)."""
