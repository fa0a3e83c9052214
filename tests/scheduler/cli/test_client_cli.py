"""The client commands (``token``, ``submit``, ``status``, ``list``, ``cancel``, ``cap``)
against a real server on loopback, over SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from plugins.stores.sql import SqlJobStore
from scheduler.api.app import create_app
from scheduler.api.auth import issue_token
from scheduler.api.server import ApiServer
from scheduler.cli.main import app
from scheduler.clock import SystemClock
from scheduler.model import ApiRole
from scheduler.protocols import TokenStore
from scheduler.settings import Settings, load_settings
from scheduler.wiring import WiringContext, build_token_store, default_registries

SUBMIT = [
    "submit", "--deadline", "+36h", "--gpus", "4", "--duration", "6h", "--zones", "DE,FR",
    "--power-cap", "250W", "--energy-cap", "40kWh", "--project", "llm", "--model-version", "v3",
]  # fmt: skip
NOW = SystemClock().now()
ARGV = ["--", "python", "train.py", "--lr", "3e-4"]


@dataclass
class Cli:
    """Runs ``carbonshift`` against the live server with the given environment."""

    runner: CliRunner
    env: dict[str, str]
    backend: str
    tokens: TokenStore

    def run(self, *args: str, token: str | None = None) -> Any:
        """Invoke the CLI; ``token`` sets CARBONSHIFT_TOKEN."""
        env = dict(self.env)
        if token is not None:
            env["CARBONSHIFT_TOKEN"] = token
        return self.runner.invoke(app, list(args), env=env)

    def json(self, *args: str, token: str | None = None) -> Any:
        """Invoke with ``--json``; assert success and decode stdout."""
        result = self.run(*with_json(args), token=token)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def new_token(self, team: str, role: str) -> str:
        """``carbonshift token create`` (the memory store: the server's own tokens)."""
        if self.backend == "memory":
            return issue_token(self.tokens, team=team, role=ApiRole(role), now=NOW)[0]
        token: str = self.json("token", "create", "--team", team, "--role", role)["token"]
        return token


def with_json(args: tuple[str, ...] | list[str]) -> list[str]:
    """``args`` with ``--json`` before the ``--`` that starts a job's command line."""
    args = list(args)
    at = args.index("--") if "--" in args else len(args)
    return [*args[:at], "--json", *args[at:]]


def _settings(env: dict[str, str]) -> Settings:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        return load_settings()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def cli(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cli]:
    """A server over the backend of the settings, and a CLI pointed at it."""
    for name in list(os.environ):
        if name.startswith("CARBONSHIFT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    env = {
        "CARBONSHIFT_DATA_DIR": str(tmp_path),
        "CARBONSHIFT_REGIONS": json.dumps(
            [{"name": "de-1", "zone": "DE"}, {"name": "fr-1", "zone": "FR"}]
        ),
    }
    if request.param == "memory":
        env["CARBONSHIFT_STORE"] = json.dumps({"kind": "memory"})
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_schema_url")
        env["CARBONSHIFT_STORE"] = json.dumps({"kind": "postgresql", "url": url})
    settings = _settings(env)
    store = default_registries().stores.build(settings.store, _wiring(settings), "store")
    tokens = build_token_store(settings, store)
    api = create_app(store=store, tokens=tokens, clock=SystemClock(), settings=settings)
    with ApiServer(api) as server:
        env["CARBONSHIFT_URL"] = server.url
        yield Cli(runner=CliRunner(), env=env, backend=request.param, tokens=tokens)
    if isinstance(store, SqlJobStore):
        store.engine.dispose()


def _wiring(settings: Settings) -> WiringContext:
    return WiringContext(settings=settings, clock=SystemClock())


def test_submit_status_list_cancel(cli: Cli) -> None:
    """The README's flow: a token, a submission, its status, the list, a cancellation."""
    token = cli.new_token("nlp", "submitter")
    job = cli.json(*SUBMIT, *ARGV, token=token)
    assert job["state"] == "PENDING"
    assert job["spec"]["entrypoint"] == ["python", "train.py", "--lr", "3e-4"]
    assert job["spec"]["estimated_duration_s"] == 6 * 3600
    assert (job["spec"]["power_cap_w"], job["spec"]["energy_cap_kwh"]) == (250, 40)
    assert job["spec"]["team"] == "nlp"
    status = cli.json("status", job["id"], token=token)
    assert (status["id"], status["state"]) == (job["id"], "PENDING")
    listed = cli.json("list", "--state", "pending", token=token)
    assert [item["id"] for item in listed] == [job["id"]]
    assert cli.json("cancel", job["id"], token=token)["state"] == "CANCELLED"
    assert cli.json("list", "--state", "PENDING", token=token) == []


def test_energy_cap_policy_reaches_the_job_spec(cli: Cli) -> None:
    """--energy-cap-policy is stored on the job; without it the job stops at its cap."""
    token = cli.new_token("nlp", "submitter")
    throttled = cli.json(*SUBMIT, "--energy-cap-policy", "throttle", *ARGV, token=token)
    assert throttled["spec"]["energy_cap_policy"] == "throttle"
    assert cli.json(*SUBMIT, *ARGV, token=token)["spec"]["energy_cap_policy"] == "stop"
    bad = cli.run(*SUBMIT, "--energy-cap-policy", "pause", *ARGV, token=token)
    assert bad.exit_code == 2
    assert "--energy-cap-policy" in bad.stderr
    assert "stop, throttle, notify" in bad.stderr


def test_human_output_is_one_decision_line_and_tables(cli: Cli) -> None:
    """Without --json, submit prints the decision in one line and status a table."""
    token = cli.new_token("nlp", "submitter")
    submitted = cli.run(*SUBMIT, *ARGV, token=token)
    assert submitted.exit_code == 0, submitted.output
    line = submitted.stdout.strip()
    assert line.count("\n") == 0
    job_id = line.split()[0]
    assert line.startswith(f"{job_id} PENDING: ")
    status = cli.run("status", job_id, token=token)
    assert "python train.py --lr 3e-4" in status.stdout
    assert "250 W per GPU" in status.stdout


def test_errors_are_json_with_a_non_zero_exit(cli: Cli) -> None:
    """Unknown jobs, other teams' jobs and missing tokens fail with the JSON error body."""
    owner = cli.new_token("a", "submitter")
    other = cli.new_token("b", "submitter")
    job_id = cli.json(*SUBMIT, *ARGV, token=owner)["id"]
    for args, token, code in [
        (("status", "job-nope"), owner, "not_found"),
        (("status", job_id), other, "not_found"),
        (("cancel", job_id), other, "not_found"),
        (("list",), None, "unauthorized"),
    ]:
        result = cli.run(*with_json(args), token=token)
        assert result.exit_code == 1
        assert json.loads(result.stdout)["error"]["code"] == code


@pytest.mark.parametrize(
    ("option", "value", "example"),
    [("--duration", "6x", "6h"), ("--deadline", "tomorrow", "+36h"), ("--power-cap", "9J", "250W")],
)
def test_bad_values_get_one_line_with_an_accepted_form(
    cli: Cli, option: str, value: str, example: str
) -> None:
    """A bad unit is a usage error (exit 2) whose one line shows an accepted form."""
    args = list(SUBMIT)
    args[args.index(option) + 1] = value
    result = cli.run(*args, *ARGV, token="unused")
    assert result.exit_code == 2
    assert example in result.stderr
    assert option in result.stderr
    as_json = cli.run(*with_json([*args, *ARGV]), token="unused")
    assert json.loads(as_json.stdout)["error"]["code"] == "bad_argument"


def test_unreachable_server_is_a_clear_error(cli: Cli) -> None:
    """A wrong URL names the URL and how to fix it."""
    cli.env["CARBONSHIFT_URL"] = "http://127.0.0.1:9"
    result = cli.run("list", "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "unreachable"
    assert "CARBONSHIFT_URL" in error["message"]


def test_token_list_and_revoke(cli: Cli) -> None:
    """Tokens are listed without secrets; a revoked token is refused by the server."""
    if cli.backend == "memory":
        refused = cli.run("token", "list")
        assert refused.exit_code == 2
        assert "memory store" in refused.stderr
        return
    token = cli.new_token("a", "viewer")
    listed = cli.json("token", "list")
    assert [(t["team"], t["role"]) for t in listed] == [("a", "viewer")]
    assert "token_sha256" not in listed[0]
    assert token not in json.dumps(listed)
    assert cli.run("token", "revoke", listed[0]["id"]).exit_code == 0
    result = cli.run("list", "--json", token=token)
    assert json.loads(result.stdout)["error"]["code"] == "unauthorized"


def test_cap_changes_a_pending_jobs_caps(cli: Cli, request: pytest.FixtureRequest) -> None:
    """`cap --power 200W --energy 30kWh` stores both caps and prints them."""
    token = cli.new_token("nlp", "submitter")
    job_id = cli.json(*SUBMIT, *ARGV, token=token)["id"]
    capped = cli.json("cap", job_id, "--power", "200W", "--energy", "30kWh", token=token)
    assert (capped["spec"]["power_cap_w"], capped["spec"]["energy_cap_kwh"]) == (200, 30)
    line = cli.run("cap", job_id, "--power", "none", token=token).stdout
    assert line.strip() == f"{job_id}: power cap none per GPU, energy cap 30 kWh"
