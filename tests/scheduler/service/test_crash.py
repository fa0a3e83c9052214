"""The crash test: SIGKILL ``carbonshift serve`` during dispatch, restart it, lose nothing.

50 short jobs are queued; the service (a real subprocess on SQLite, dispatching to the
shared local Ray head) is killed with SIGKILL as soon as a dispatch intent is on disk but
not yet confirmed, then started again. Every job must end SUCCEEDED with exactly one Ray
job, and no Ray job may exist twice.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from ray.job_submission import JobSubmissionClient

from plugins.clusters.local_ray import free_ports
from plugins.stores.database import open_database
from plugins.stores.sql import SqlJobStore
from scheduler.model import JobSpec

pytestmark = [pytest.mark.ray, pytest.mark.slow]

JOBS = 50
TOKEN_ENV = "CARBONSHIFT_TEST_RAY_TOKEN"


def write_config(tmp_path: Path, head: Any) -> Path:
    """Settings: SQLite in ``tmp_path``, one region on the shared head, flat carbon signal."""
    config = {
        "data_dir": str(tmp_path / "data"),
        "store": {"kind": "sqlite"},
        "regions": [
            {
                "name": "local",
                "zone": "DE",
                "cluster": {"kind": "ray", "address": head.address, "token_env": TOKEN_ENV},
            }
        ],
        "forecasts": {"default": [{"kind": "static", "g_per_kwh": {"DE": 300}}]},
        "service": {"tick_seconds": 0.5},
        "api": {"port": free_ports(1)[0]},
    }
    path = tmp_path / "carbonshift.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def start_service(config: Path, head: Any, log: Path) -> subprocess.Popen[bytes]:
    """``carbonshift serve`` as a subprocess, logging JSON to ``log``."""
    env = {**os.environ, "CARBONSHIFT_CONFIG": str(config)}
    env[TOKEN_ENV] = head.token.get_secret_value()
    command = [str(Path(sys.executable).with_name("carbonshift")), "serve", "--log-json"]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def attempts(db: Path) -> tuple[int, int]:
    """(attempts recorded, of which only intents) in the service's database."""
    with sqlite3.connect(db, timeout=30) as connection:
        row = connection.execute(
            "SELECT count(*), coalesce(sum(submitted = 0), 0) FROM attempts"
        ).fetchone()
    return int(row[0]), int(row[1])


def wait_for(condition: Any, timeout_s: float, what: str, poll_s: float = 0.02) -> None:
    """Poll ``condition`` (I/O) until it holds; fail naming ``what`` after the timeout."""
    give_up = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)


def test_sigkill_during_dispatch_loses_and_duplicates_nothing(
    tmp_path: Path, ray_head: Any
) -> None:
    """After SIGKILL mid-dispatch and a restart, each job has exactly one SUCCEEDED Ray job."""
    config, log = write_config(tmp_path, ray_head), tmp_path / "serve.log"
    db = tmp_path / "data" / "carbonshift.db"
    store = SqlJobStore(open_database(f"sqlite:///{db}"))
    now = datetime.now(UTC)
    spec = JobSpec(
        name="crash",
        entrypoint=("true",),
        gpus=1,
        estimated_duration_s=60,
        deadline=now + timedelta(hours=3),
    )
    ids = {store.submit(spec, now=now).id for _ in range(JOBS)}
    store.engine.dispose()

    first = start_service(config, ray_head, log)
    try:
        wait_for(lambda: attempts(db)[1] > 0 and attempts(db)[0] >= 3, 120, "a dispatch intent")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    crashed_with = attempts(db)

    second = start_service(config, ray_head, log)
    store = SqlJobStore(open_database(f"sqlite:///{db}"))
    try:
        wait_for(
            lambda: all(job.state.terminal for job in store.list()), 300, "every job to finish", 1
        )
    finally:
        second.send_signal(signal.SIGTERM)
        code = second.wait(60)
    assert code == 0

    assert {str(job.state) for job in store.list()} == {"SUCCEEDED"}
    client = JobSubmissionClient(
        ray_head.address, headers={"Authorization": f"Bearer {ray_head.token.get_secret_value()}"}
    )
    ours = [
        details
        for details in client.list_jobs()
        if (details.metadata or {}).get("carbonshift_job_id") in ids
    ]
    per_job = Counter(
        details.metadata["carbonshift_job_id"] for details in ours if details.metadata
    )
    assert set(per_job) == ids, "a job never reached Ray"
    assert set(per_job.values()) == {1}, f"duplicated on Ray: {per_job.most_common(3)}"
    assert {str(details.status.value) for details in ours} == {"SUCCEEDED"}
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any("job_id" in line and "attempt" in line for line in lines)
    print(f"killed with {crashed_with[0]} attempts recorded, {crashed_with[1]} only intents")
