"""`jobtrail org ...` and `jobtrail key ...`: organizations and their API keys."""

import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jobtrail.cli.common import DbOption, JsonOption, fail, print_json
from jobtrail.cli.store_access import open_store, open_store_to_read
from jobtrail.domain.roles import Role, allows
from jobtrail.domain.timefmt import format_ts
from jobtrail.settings import positive_duration
from jobtrail.store import accounts

org_app = typer.Typer(help="Organizations.", no_args_is_help=True)
key_app = typer.Typer(help="API keys of an organization.", no_args_is_help=True)
console = Console()


@org_app.command("create")
def org_create(name: str, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Create an organization and print its id."""
    org_id = accounts.create_org(open_store(db), name)
    if as_json:
        print_json({"organizationId": org_id, "name": name})
    else:
        typer.echo(org_id)


@org_app.command("list")
def org_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List organizations."""
    orgs = accounts.list_orgs(open_store_to_read(db))
    if as_json:
        print_json({"organizations": [{"organizationId": i, "name": n} for i, n in orgs]})
        return
    table = Table("organization id", "name")
    for org_id, name in orgs:
        table.add_row(org_id, name)
    console.print(table)


def _check_org(engine: object, org: str) -> None:
    try:
        uuid.UUID(org)
    except ValueError:
        raise fail(f"{org!r} is not an organization id (a UUID).", 2) from None
    if not accounts.org_exists(engine, org):  # type: ignore[arg-type]
        raise fail(f"unknown organization {org}.", 2)


@key_app.command("create")
def key_create(
    org: Annotated[str, typer.Option("--org", help="Organization id.")],
    role: Annotated[Role, typer.Option("--role", help="read, ingest or admin.")],
    name: Annotated[str, typer.Option("--name", help="A label to recognise the key.")] = "",
    v2: Annotated[bool, typer.Option("--v2", help="A legacy key, used without its id.")] = False,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime, ISO 8601 (P90D).")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key; its secret is printed once and only its hash is kept."""
    engine = open_store(db)
    _check_org(engine, org)
    expires_at = None
    if expires is not None:
        lifetime = positive_duration(expires)
        if lifetime is None:
            raise fail(f"--expires {expires!r} is not an ISO 8601 duration such as P90D.", 2)
        expires_at = accounts.expiry_after(lifetime)
    new = accounts.create_key(engine, org, role.value, name=name, v2=v2, expires_at=expires_at)
    body = {"keyId": new.key.key_id, "key": new.secret, "role": role.value, "organizationId": org}
    lineage = new.openlineage_credential
    if allows(role.value, "ingest"):
        body["openLineageApiKey"] = lineage
    if as_json:
        print_json(body)
        return
    console.print(f"key id:  {new.key.key_id}\nkey:     {new.secret}\nrole:    {role.value}")
    if "openLineageApiKey" in body:
        console.print(f"OPENLINEAGE_API_KEY={lineage}", soft_wrap=True)
    console.print("[yellow]The key is shown only now; store it safely.[/]")


@key_app.command("list")
def key_list(
    org: Annotated[str, typer.Option("--org", help="Organization id.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List an organization's keys (never their secrets)."""
    engine = open_store_to_read(db)
    _check_org(engine, org)
    keys = accounts.list_keys(engine, org)
    rows = [
        {
            "keyId": k.key_id,
            "name": k.name,
            "role": k.role,
            "version": k.version,
            "createdAt": format_ts(k.created_at),
            "expiresAt": format_ts(k.expires_at) if k.expires_at else None,
            "revokedAt": format_ts(k.revoked_at) if k.revoked_at else None,
            "lastUsedAt": format_ts(k.last_used_at) if k.last_used_at else None,
        }
        for k in keys
    ]
    if as_json:
        print_json({"keys": rows})
        return
    table = Table("key id", "name", "role", "v", "created", "expires", "revoked", "last used")
    for r in rows:
        table.add_row(*(str(r[c] or "") for c in r))
    console.print(table)


@key_app.command("revoke")
def key_revoke(key_id: str, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Revoke a key; tokens minted from it stop working within seconds."""
    engine = open_store(db)
    if accounts.get_key(engine, key_id) is None:
        raise fail(f"unknown key {key_id}.", 2)
    changed = accounts.revoke_key(engine, key_id)
    if as_json:
        print_json({"keyId": key_id, "revoked": True, "alreadyRevoked": not changed})
    else:
        typer.echo(f"revoked {key_id}" if changed else f"{key_id} was already revoked")
