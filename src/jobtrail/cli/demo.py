"""`jobtrail demo`: a server with four days of sample runs and real jobs run by the agent."""

import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from rich.console import Console

from jobtrail.cli.common import DbOption, fail
from jobtrail.cli.server import HostOption, PortOption
from jobtrail.cli.store_access import open_store
from jobtrail.client.sync import JobsClient
from jobtrail.demo.jobs import write_demo_jobs
from jobtrail.demo.receiver import DemoReceiver
from jobtrail.demo.sample import sample_events
from jobtrail.domain.roles import Role
from jobtrail.runner.agent import Agent
from jobtrail.runner.dbt import dbt_executable
from jobtrail.store import accounts
from jobtrail.wire import paths

console = Console()


def _load_demo(base: str, org_id: str, key_id: str, secret: str) -> int:
    """Post the sample runs through the ingestion API, as any reporter would."""
    events = sample_events(datetime.now(UTC))
    with JobsClient(base, org_id, key_id, secret) as client:
        client.ingest(events)
    return len(events)


def demo(
    db: DbOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
) -> None:
    """Serve with sample data (four days of realistic runs) and real jobs run by the agent."""
    _check_port(host, port)
    engine = open_store(db)
    org_id = accounts.create_org(engine, f"demo {datetime.now(UTC):%Y-%m-%d %H:%M}")
    ingest_key = accounts.create_key(engine, org_id, Role.INGEST, name="demo ingest")
    read_key = accounts.create_key(engine, org_id, Role.READ, name="demo read")
    folder = Path(tempfile.mkdtemp(prefix="jobtrail-demo-"))
    receiver = DemoReceiver(lambda line: console.print(f"  [red]{line}[/]", soft_wrap=True))
    os.environ.update(
        JOBTRAIL_ALERTS_CONFIG=str(receiver.write_config(folder / "alerts.toml")),
        JOBTRAIL_ALERTS_INTERVAL="PT5S",
        JOBTRAIL_PUBLIC_URL=f"http://{host}:{port}",
    )
    server = uvicorn.Server(
        uvicorn.Config(
            "jobtrail.api.app:create_app", factory=True, host=host, port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise fail(_port_taken(host, port))
        time.sleep(0.05)
    base = f"http://{host}:{port}"
    count = _load_demo(base, org_id, ingest_key.key.key_id, ingest_key.secret)
    agent, agent_thread, with_dbt = _start_agent(folder, base, org_id, ingest_key)
    console.print(f"[green]jobtrail demo[/] is serving {count} sample events at {base}\n")
    console.print(
        f"  the agent runs {len(agent.jobs) or 'the'} jobs in {folder / 'jobs'} "
        f"({'with' if with_dbt else 'without'} a dbt project); its log and the jobs' output: "
        f"{folder / 'agent.log'}"
    )
    console.print(f"  organization id: {org_id}")
    console.print(f"  API key id:      {read_key.key.key_id}   (role read)")
    console.print(f"  API key:         {read_key.secret}")
    console.print(f"  Jobs console:    {base}{paths.CONSOLE}")
    console.print(f"  API docs:        {base}{paths.DOCS}")
    console.print(f"  ingest key id:   {ingest_key.key.key_id}   (role ingest, for runners)")
    console.print(f"  ingest key:      {ingest_key.secret}")
    console.print("\n  run a job of your own (a job spec in YAML, see the README):")
    console.print(
        f"  JOBTRAIL_ORG={org_id} JOBTRAIL_API_KEY_ID={ingest_key.key.key_id} "
        f"JOBTRAIL_API_KEY={ingest_key.secret} jobtrail run JOB.yaml --server {base}",
        soft_wrap=True,
    )
    console.print(
        f"  Alerts:          {base}{paths.CONSOLE}#/alerts (and below, as the webhook gets them)"
    )
    console.print(
        f"\n  curl -H 'X-API-Key-ID: {read_key.key.key_id}' -H 'X-API-Key: {read_key.secret}' "
        f"{base}{paths.fill(paths.TOKEN_V3, organizationId=org_id)}",
        soft_wrap=True,
    )
    console.print("\nPress Ctrl+C to stop.")
    signal.signal(signal.SIGTERM, _interrupt)  # stop as cleanly on SIGTERM as on Ctrl+C
    try:
        thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()
        agent_thread.join(timeout=40)
        server.should_exit = True
        thread.join(timeout=5)
        receiver.close()
        shutil.rmtree(folder, ignore_errors=True)


def _port_taken(host: str, port: int) -> str:
    return (
        f"port {port} on {host} is taken (another jobtrail demo or server?); choose another: "
        f"jobtrail demo --port 8080, or make demo PORT=8080."
    )


def _check_port(host: str, port: int) -> None:
    """Say so before creating anything when the port is taken, instead of failing later."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError:
            raise fail(_port_taken(host, port), 2) from None


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _start_agent(
    folder: Path, base: str, org_id: str, key: accounts.NewKey
) -> tuple[Agent, threading.Thread, bool]:
    """The agent, in a thread of this process, running the demo's jobs as any runner would:
    `jobtrail run` subprocesses reporting to the server over HTTP."""
    with_dbt = Path(dbt_executable()).exists()
    jobs = write_demo_jobs(folder, with_dbt)
    os.environ.update(
        JOBTRAIL_ORG=org_id, JOBTRAIL_API_KEY_ID=key.key.key_id, JOBTRAIL_API_KEY=key.secret
    )
    handler = logging.FileHandler(folder / "agent.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("jobtrail.agent").addHandler(handler)
    logging.getLogger("jobtrail.agent").setLevel(logging.INFO)
    args = ["--server", base, "--spool", str(folder / "spool"), "--parallel", "2"]
    agent = Agent(jobs, args, run_at_start=True, output=folder / "agent.log")
    agent.tick()  # load the specs now, so the banner can count them
    thread = threading.Thread(target=agent.run_forever, name="jobtrail-agent", daemon=True)
    thread.start()
    return agent, thread, with_dbt
