"""How the terminal commands (`runs`, `logs`, `login`) find the server and the credentials:
flags, then `JOBTRAIL_*` variables, then a named profile of `jobtrail login`."""

from typing import Annotated

import typer

from jobtrail.cli.common import fail
from jobtrail.client import profiles
from jobtrail.client.sync import JobsClient

ServerOpt = Annotated[
    str | None, typer.Option("--server", envvar="JOBTRAIL_SERVER", help="jobtrail server URL.")
]
OrgOpt = Annotated[
    str | None, typer.Option("--org", envvar="JOBTRAIL_ORG", help="Organization id.")
]
KeyIdOpt = Annotated[
    str | None, typer.Option("--api-key-id", envvar="JOBTRAIL_API_KEY_ID", help="API key id.")
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key", envvar="JOBTRAIL_API_KEY", help="API key (secret).", show_default=False
    ),
]
ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile", envvar="JOBTRAIL_PROFILE", help="Profile written by `jobtrail login`."
    ),
]

SOURCES = {
    "server": "--server or JOBTRAIL_SERVER",
    "organization": "--org or JOBTRAIL_ORG",
    "API key": "--api-key or JOBTRAIL_API_KEY",
}


def connect(
    server: str | None, org: str | None, key_id: str | None, key: str | None, profile: str
) -> JobsClient:
    """A client from flags and variables, completed from the profile; a missing setting names
    every flag and variable that could supply it."""
    try:
        saved = profiles.load(profile) if profile in profiles.read_all() else None
    except profiles.ProfileError as exc:
        raise fail(str(exc), 2) from None
    server = server or (saved.server if saved else None)
    org = org or (saved.organization_id if saved else None)
    key_id = key_id or (saved.api_key_id if saved else None)
    key = key or (saved.api_key if saved else None)
    given = {"server": server, "organization": org, "API key": key}
    missing = [name for name, value in given.items() if not value]
    if missing:
        where = "; ".join(f"{name}: {SOURCES[name]}" for name in missing)
        raise fail(
            f"missing {', '.join(missing)}. Give {where}; or a profile "
            f"({profiles.config_path()}, profile {profile!r}) written by `jobtrail login`.",
            2,
        )
    assert server
    assert org
    assert key
    return JobsClient(server, org, key_id, key)
