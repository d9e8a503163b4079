"""`jobtrail login`: check a server and key, and keep them as a named profile (mode 0600)."""

import typer

from jobtrail.cli.client_access import KeyIdOpt, KeyOpt, OrgOpt, ProfileOpt, ServerOpt
from jobtrail.cli.common import fail
from jobtrail.client import ApiError, profiles
from jobtrail.client.sync import JobsClient


def login(
    server: ServerOpt = None,
    org: OrgOpt = None,
    api_key_id: KeyIdOpt = None,
    api_key: KeyOpt = None,
    profile: ProfileOpt = "default",
) -> None:
    """Save a server, organization and API key as a profile for `jobtrail runs` and `logs`."""
    missing = [
        flag
        for flag, value in (
            ("--server (JOBTRAIL_SERVER)", server),
            ("--org (JOBTRAIL_ORG)", org),
            ("--api-key-id (JOBTRAIL_API_KEY_ID)", api_key_id),
        )
        if not value
    ]
    if missing:
        raise fail(f"login needs {', '.join(missing)}.", 2)
    assert server
    assert org
    assert api_key_id
    key = api_key or typer.prompt("API key", hide_input=True)
    with JobsClient(server, org, api_key_id, key) as client:
        try:
            client.authenticate()
        except ApiError as exc:
            raise fail(f"the server refused the key: {exc.message}", 1) from None
    path = profiles.save(profile, profiles.Profile(server, org, api_key_id, key))
    typer.echo(f"saved profile {profile!r} in {path} (organization {org}, key id {api_key_id})")
