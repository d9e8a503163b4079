"""The API's paths: the base path and every route as a template with the server's parameter
names, filled in (and URL-encoded) by `fill` for a client."""

from urllib.parse import quote

BASE = "/api/msc/v1"
OPENAPI = f"{BASE}/openapi.json"
DOCS = f"{BASE}/docs"
CONSOLE = "/console"

ORG = "/organizations/{organizationId}"
TOKEN_V3 = f"{ORG}/credentials/v3/token"
TOKEN_V2 = f"{ORG}/credentials/v2/token"
RUNS = f"{ORG}/jobs/v1/runs"
RUN = f"{RUNS}/{{runId}}"
STEPS = f"{RUN}/steps"
STEP = f"{STEPS}/{{stepName}}"
LOGS = f"{STEP}/logs/{{stream}}"
EVENTS = f"{ORG}/jobs/v1/events"
DEFINITIONS = f"{ORG}/jobs/v1/definitions"


def fill(template: str, **params: str) -> str:
    """A route template with its parameters URL-encoded (step names may hold any printable
    character but `/`), prefixed with the base path: what a client requests."""
    encoded = {name: quote(value, safe="") for name, value in params.items()}
    return BASE + template.format(**encoded)


def console_run_url(server: str, run_id: str) -> str:
    """Where a person looks at one run in the web console."""
    return f"{server.rstrip('/')}{CONSOLE}#/runs/{quote(run_id, safe='')}"
