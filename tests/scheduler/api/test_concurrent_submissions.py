"""20 concurrent clients submitting 500 jobs lose none: each acknowledged job is stored once."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from scheduler.model import ApiRole
from tests.scheduler.api.conftest import AppFactory, ClientFor, Stores, bearer, job_body

CLIENTS = 20
JOBS_PER_CLIENT = 25


@pytest.mark.slow
def test_twenty_clients_submitting_five_hundred_jobs_lose_none(
    stores: Stores, make_app: AppFactory, client_for: ClientFor
) -> None:
    """Every 202 names a job that is in the store exactly once, and all 500 were accepted."""
    client = client_for(make_app(stores, api={"jobs_per_minute": 10_000}))
    headers = bearer(stores, "load", ApiRole.SUBMITTER)

    def submit_many(worker: int) -> list[str]:
        session = requests.Session()
        acknowledged = []
        for i in range(JOBS_PER_CLIENT):
            answer = session.post(
                f"{client.base_url}/v1/jobs",
                json=job_body(name=f"w{worker}-{i}"),
                headers={**headers, "Idempotency-Key": f"w{worker}-{i}"},
                timeout=60,
            )
            assert answer.status_code == 202, answer.text
            acknowledged.append(answer.json()["id"])
        session.close()
        return acknowledged

    with ThreadPoolExecutor(CLIENTS) as pool:
        acknowledged = [job_id for ids in pool.map(submit_many, range(CLIENTS)) for job_id in ids]

    stored = Counter(job.id for job in stores.jobs.list())
    assert len(acknowledged) == CLIENTS * JOBS_PER_CLIENT
    assert set(acknowledged) == set(stored)
    assert set(stored.values()) == {1}
    names = sorted(job.spec.name for job in stores.jobs.list())
    assert names == sorted(f"w{w}-{i}" for w in range(CLIENTS) for i in range(JOBS_PER_CLIENT))
