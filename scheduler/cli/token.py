"""``carbonshift token create | list | revoke``: API tokens, in the server's database.

Run beside the server with the same settings and data directory. A new token is printed
once; only its SHA-256 is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from scheduler.cli.state import EXIT_USAGE, fail, fail_on, state
from scheduler.clock import SystemClock
from scheduler.errors import CarbonshiftError
from scheduler.model import ApiRole
from scheduler.protocols import TokenStore
from scheduler.wiring import open_token_store, store_url

app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@contextmanager
def _tokens(ctx: typer.Context) -> Iterator[TokenStore]:
    settings = state(ctx).settings()
    try:
        if store_url(settings) is None:
            fail(
                "the memory store keeps tokens inside the server process; use a sqlite or "
                "postgresql store to create tokens from the command line",
                code=EXIT_USAGE,
            )
        with open_token_store(settings) as tokens:
            yield tokens
    except CarbonshiftError as exc:
        fail_on(exc)


@app.command("create")
def create(
    ctx: typer.Context,
    team: Annotated[str, typer.Option(help="The team whose jobs the token sees.")],
    role: Annotated[ApiRole, typer.Option(help="viewer, submitter or admin.")],
    as_json: JsonOption = False,
) -> None:
    """Create a token and print it once (it cannot be shown again)."""
    from scheduler.api.auth import issue_token  # noqa: PLC0415  (FastAPI loads on use)

    with _tokens(ctx) as tokens:
        secret, record = issue_token(tokens, team=team, role=role, now=SystemClock().now())
    if as_json:
        typer.echo(json.dumps({"token": secret, "id": record.id, "team": team, "role": role}))
        return
    typer.echo(secret)
    Console(stderr=True).print(
        f"token {record.id} for team {team!r} as {role.value}; store it now, it is shown "
        "only once (export CARBONSHIFT_TOKEN=…)",
        highlight=False,
    )


@app.command("list")
def list_tokens(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every token (never the secret)."""
    with _tokens(ctx) as store:
        tokens = store.tokens()
    if as_json:
        rows = [t.model_dump(mode="json", exclude={"token_sha256"}) for t in tokens]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "team", "role", "created", "revoked")
    for t in tokens:
        revoked = t.revoked_at.isoformat() if t.revoked_at else "–"
        table.add_row(t.id, t.team, t.role.value, t.created_at.isoformat(), revoked)
    Console().print(table)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(metavar="ID", help="Token id (from `token list`).")],
) -> None:
    """Revoke a token; the server refuses it from the next request on."""
    with _tokens(ctx) as tokens:
        record = tokens.revoke(token_id, at=SystemClock().now())
    Console().print(f"token {record.id} revoked", highlight=False)
