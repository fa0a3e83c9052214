"""Helpers for provider tests: an HTTP client that never sleeps, and fixture loading."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import requests

from forecasts.http import HttpClient, HttpPolicy
from scheduler.clock import FakeClock


def load(fixtures_dir: Path, relative: str) -> Any:
    """A recorded payload from ../shared/fixtures."""
    return json.loads((fixtures_dir / relative).read_text(encoding="utf-8"))


def make_http(clock: FakeClock, provider: str, **policy: Any) -> HttpClient:
    """A client on a fresh session (driven by ``responses``) that never really sleeps."""
    return HttpClient(
        provider=provider,
        clock=clock,
        session=requests.Session(),
        policy=HttpPolicy(**policy),
        sleep=lambda _s: None,
        rng=random.Random(1),
    )
