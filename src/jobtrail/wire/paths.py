"""The API's paths, every one of them: the base path and each route under it as a template with
the server's parameter names, filled in (and URL-encoded) by `fill` for a client; then the few
routes served outside the base path, spelled whole. The routes, the client, the tests and the
benchmarks use these names; a test checks that the OpenAPI document lists exactly these."""

from urllib.parse import quote

BASE = "/api/msc/v1"
OPENAPI = f"{BASE}/openapi.json"
DOCS = f"{BASE}/docs"
CONSOLE = "/console"
HEALTHZ = "/healthz"
READYZ = "/readyz"
METRICS = "/metrics"
LINEAGE = "/api/v1/lineage"  # OpenLineage's HTTP transport posts here (its default path)

ORG = "/organizations/{organizationId}"
KEYS = f"{ORG}/keys/v1/keys"
KEY = f"{KEYS}/{{keyId}}"
TOKEN_V3 = f"{ORG}/credentials/v3/token"
TOKEN_V2 = f"{ORG}/credentials/v2/token"
RUNS = f"{ORG}/jobs/v1/runs"
RUN = f"{RUNS}/{{runId}}"
STEPS = f"{RUN}/steps"
STEP = f"{STEPS}/{{stepName}}"
LOGS = f"{STEP}/logs/{{stream}}"
EVENTS = f"{ORG}/jobs/v1/events"
DEFINITIONS = f"{ORG}/jobs/v1/definitions"
INSIGHT_JOBS = f"{ORG}/insights/v1/jobs"
INSIGHT_JOB = f"{INSIGHT_JOBS}/{{jobId}}"
ALERTS = f"{ORG}/alerts/v1/alerts"

# Every route under the base path, for the test that holds them to the OpenAPI document.
UNDER_BASE = (
    ORG,
    KEYS,
    KEY,
    TOKEN_V3,
    TOKEN_V2,
    RUNS,
    RUN,
    STEPS,
    STEP,
    LOGS,
    EVENTS,
    DEFINITIONS,
    INSIGHT_JOBS,
    INSIGHT_JOB,
    ALERTS,
)


def fill(template: str, **params: str) -> str:
    """A route template with its parameters URL-encoded (step names may hold any printable
    character but `/`), prefixed with the base path: what a client requests."""
    encoded = {name: quote(value, safe="") for name, value in params.items()}
    return BASE + template.format(**encoded)


def console_run_url(server: str, run_id: str) -> str:
    """Where a person looks at one run in the web console."""
    return f"{server.rstrip('/')}{CONSOLE}#/runs/{quote(run_id, safe='')}"
