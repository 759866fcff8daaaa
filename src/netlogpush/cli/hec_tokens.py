"""``netlogpush hec-tokens create|list|disable|enable|revoke``: the built-in receiver's tokens.

The same store as the API's ``…/receiver/hec_tokens`` routes; a running ``serve`` sees a
change at the next request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from netlogpush.cli.deadletters import DataDirOption, JsonOption, _fail, err
from netlogpush.receiver.tokens import HecTokenStore

hec_tokens_app = typer.Typer(
    help="Tokens of the built-in Splunk HEC / HTTP Logpush receiver (Authorization: Splunk <token>).",
    no_args_is_help=True,
)
TokenIdArg = Annotated[str, typer.Argument(help="The token's id (from `hec-tokens list`).")]


def _store(data_dir: Path) -> HecTokenStore:
    return HecTokenStore(data_dir)


@hec_tokens_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "",
    index: Annotated[
        list[str] | None,
        typer.Option("--index", help="An index senders may name; repeatable. None: any."),
    ] = None,
    account: Annotated[
        str, typer.Option("--account", help="The API account that may manage it.")
    ] = "",
    data_dir: DataDirOption = Path("netlogpush-data"),
) -> None:
    """Create a HEC token; the token is printed on the last line (shown once, stored hashed).

    Example: [green]netlogpush hec-tokens create --name cloudflare[/green], then a Logpush job
    with [green]destination_conf "splunk://HOST:8080/services/collector/raw?channel=<GUID>&insecure-skip-verify=false&sourcetype=cloudflare:json&header_Authorization=Splunk%20<token>"[/green]
    """
    try:
        secret, token = _store(data_dir).create(name, list(index or []), account=account)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    err.print(f"HEC token {token.id} ({name or 'no name'}); keep it secret:")
    typer.echo(secret)


@hec_tokens_app.command("list")
def list_tokens(
    data_dir: DataDirOption = Path("netlogpush-data"), as_json: JsonOption = False
) -> None:
    """List the tokens (ids and names; never the secrets)."""
    tokens = _store(data_dir).list_tokens()
    if as_json:
        for token in tokens:
            typer.echo(orjson.dumps(token.as_dict()).decode())
        return
    table = Table("id", "name", "created", "enabled", "indexes", "account")
    for t in tokens:
        table.add_row(
            t.id, t.name, t.created, "yes" if t.enabled else "no", ",".join(t.indexes) or "any",
            t.account,
        )  # fmt: skip
    Console().print(table)


def _change(data_dir: Path, token_id: str, enabled: bool | None) -> None:
    store = _store(data_dir)
    done = store.revoke(token_id) if enabled is None else store.set_enabled(token_id, enabled)
    if not done:
        raise _fail(f"no HEC token with id {token_id!r} in {data_dir}")
    verb = "revoked" if enabled is None else ("enabled" if enabled else "disabled")
    err.print(f"HEC token {token_id} {verb}")


@hec_tokens_app.command("disable")
def disable(token_id: TokenIdArg, data_dir: DataDirOption = Path("netlogpush-data")) -> None:
    """Refuse the token (senders get HEC code 1, "Token disabled") until enabled again."""
    _change(data_dir, token_id, False)


@hec_tokens_app.command("enable")
def enable(token_id: TokenIdArg, data_dir: DataDirOption = Path("netlogpush-data")) -> None:
    """Accept a disabled token again."""
    _change(data_dir, token_id, True)


@hec_tokens_app.command("revoke")
def revoke(token_id: TokenIdArg, data_dir: DataDirOption = Path("netlogpush-data")) -> None:
    """Delete the token for good (senders get HEC code 4, "Invalid token")."""
    _change(data_dir, token_id, None)
