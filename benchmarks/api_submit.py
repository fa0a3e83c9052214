"""Submit throughput of the REST API: jobs/s acknowledged with 20 concurrent clients.

For SQLite (a WAL file, ``synchronous=FULL``) and PostgreSQL (127.0.0.1:5432, a fresh schema)
it measures, in the same run:

* ``api``: 20 clients, each a ``requests.Session`` on its own thread of a separate client
  process, POST /v1/jobs through uvicorn on loopback (bearer token, Idempotency-Key, JobSpec
  validation, commit, decision);
* ``store``: the same number of ``store.submit`` calls from 20 threads, no HTTP (the floor the
  database sets);
* ``noop-http`` (once): the same clients POSTing the same body to a FastAPI endpoint that
  does nothing, served the same way (the ceiling that HTTP and the machine set).

Ratios (``api / store``, ``api / noop-http``) are what to compare across machines.

Usage: .venv/bin/python benchmarks/api_submit.py [--jobs 500] [--clients 20] [--no-postgres]
The last line is JSON with every row.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy
from fastapi import FastAPI

from plugins.stores.database import open_database
from plugins.stores.sql import SqlJobStore
from plugins.stores.sql_tokens import SqlTokenStore
from scheduler.api.app import create_app
from scheduler.api.auth import issue_token
from scheduler.api.server import ApiServer
from scheduler.clock import SystemClock
from scheduler.model import ApiRole, JobSpec
from scheduler.settings import RegionConfig, Settings

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def body(i: int, now_iso: str) -> dict[str, Any]:
    """A JobSpec body like the README's example."""
    return {
        "name": f"bench-{i}",
        "entrypoint": ["python", "train.py", "--lr", "3e-4"],
        "gpus": 4,
        "estimated_duration_s": 6 * 3600,
        "deadline": now_iso,
        "zones": ["DE", "FR"],
        "power_cap_w": 250,
        "energy_cap_kwh": 40,
        "project": "llm",
        "model_version": "v3",
    }


def run_clients(url: str, headers: dict[str, str], jobs: int, clients: int) -> float:
    """Jobs per second acknowledged (202) by ``clients`` threads POSTing ``jobs`` in all."""
    deadline = (SystemClock().now() + timedelta(hours=36)).isoformat()
    per_client = jobs // clients

    def work(worker: int) -> int:
        with requests.Session() as session:
            done = 0
            for i in range(per_client):
                key = f"{worker}-{i}-{uuid.uuid4().hex[:8]}"
                answer = session.post(
                    url, json=body(i, deadline), headers={**headers, "Idempotency-Key": key},
                    timeout=120,
                )  # fmt: skip
                done += answer.status_code in (200, 202)
            return done

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        acknowledged = sum(pool.map(work, range(clients)))
    elapsed = time.perf_counter() - started
    if acknowledged != per_client * clients:
        raise SystemExit(f"only {acknowledged} of {per_client * clients} jobs were acknowledged")
    return acknowledged / elapsed


def run_clients_elsewhere(url: str, headers: dict[str, str], jobs: int, clients: int) -> float:
    """``run_clients`` in a separate process, so clients and server never share one GIL."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        return pool.submit(run_clients, url, headers, jobs, clients).result()


def store_loop(store: SqlJobStore, jobs: int, clients: int) -> float:
    """Jobs per second of direct ``store.submit`` calls from ``clients`` threads."""
    now = SystemClock().now()
    deadline = (now + timedelta(hours=36)).isoformat()
    specs = [JobSpec.model_validate(body(i, deadline)) for i in range(jobs)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda spec: store.submit(spec, now=now), specs))
    return jobs / (time.perf_counter() - started)


def noop_app() -> FastAPI:
    """A FastAPI app whose POST reads the JSON body and does nothing else."""
    app = FastAPI()

    @app.post("/v1/jobs", status_code=202)
    def accept(payload: dict[str, Any]) -> dict[str, Any]:
        return {"id": "noop", "state": "PENDING", "n": len(payload)}

    return app


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def measure_backend(kind: str, folder: Path, jobs: int, clients: int) -> dict[str, float]:
    """``api`` and ``store`` jobs/s for one backend, each on a fresh database."""
    settings = Settings(
        data_dir=folder,
        regions=[RegionConfig(name="de-1", zone="DE"), RegionConfig(name="fr-1", zone="FR")],
        api={"jobs_per_minute": 1_000_000},
    )
    with database(kind, folder) as url:
        engine = open_database(url)
        store = SqlJobStore(engine)
        tokens = SqlTokenStore(engine)
        secret, _ = issue_token(
            tokens, team="bench", role=ApiRole.SUBMITTER, now=SystemClock().now()
        )
        app = create_app(store=store, tokens=tokens, clock=SystemClock(), settings=settings)
        with ApiServer(app) as server:
            api = run_clients_elsewhere(
                f"{server.url}/v1/jobs", {"Authorization": f"Bearer {secret}"}, jobs, clients
            )
        engine.dispose()
    with database(kind, folder) as url:
        engine = open_database(url)
        direct = store_loop(SqlJobStore(engine), jobs, clients)
        engine.dispose()
    return {"api": api, "store": direct}


def print_table(rows: list[dict[str, Any]]) -> None:
    """The human-readable table."""
    print(f"{'backend':<11}{'api jobs/s':>12}{'store jobs/s':>14}{'noop jobs/s':>13}"
          f"{'api/store':>11}{'api/noop':>10}")  # fmt: skip
    for row in rows:
        print(f"{row['backend']:<11}{row['api_jobs_per_s']:>12.1f}{row['store_jobs_per_s']:>14.1f}"
              f"{row['noop_jobs_per_s']:>13.1f}{row['api_over_store']:>11.2f}"
              f"{row['api_over_noop']:>10.2f}")  # fmt: skip


def main() -> None:
    """Measure the no-op baseline, then each backend."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite"] if args.no_postgres else ["sqlite", "postgresql"]
    with ApiServer(noop_app()) as server:
        noop = run_clients_elsewhere(f"{server.url}/v1/jobs", {}, args.jobs, args.clients)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind in backends:
            figures = measure_backend(kind, Path(folder), args.jobs, args.clients)
            rows.append(_row(kind, figures, noop))
    print_table(rows)
    print(json.dumps({"benchmark": "api_submit", "jobs": args.jobs, "clients": args.clients,
                      "rows": rows}))  # fmt: skip


def _row(kind: str, figures: dict[str, float], noop: float) -> dict[str, Any]:
    ratio: Callable[[float, float], float] = lambda a, b: round(a / b, 3)  # noqa: E731
    return {
        "backend": kind,
        "api_jobs_per_s": round(figures["api"], 1),
        "store_jobs_per_s": round(figures["store"], 1),
        "noop_jobs_per_s": round(noop, 1),
        "api_over_store": ratio(figures["api"], figures["store"]),
        "api_over_noop": ratio(figures["api"], noop),
    }


if __name__ == "__main__":
    main()
