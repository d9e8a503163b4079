"""`jobtrail runs|logs|login` as a person uses them: real subprocesses against a real server,
with HOME and XDG_CONFIG_HOME in a temporary folder."""

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from tests.support import Api, Org, Server, ago, event, simple_run


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JOBTRAIL_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**clean, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "COLUMNS": "200", **extra}  # fmt: skip


def _reader_env(tmp_path: Path, server: Server, org: Org) -> dict[str, str]:
    key = org.keys["read"]
    return _env(
        tmp_path, JOBTRAIL_SERVER=server.url, JOBTRAIL_ORG=org.id,
        JOBTRAIL_API_KEY_ID=key.key.key_id, JOBTRAIL_API_KEY=key.secret,
    )  # fmt: skip


def jobtrail(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def failed_run(api: Api) -> str:
    api.ingest(simple_run(ago(hours=2), "cli", fail=True) + simple_run(ago(hours=1), "ok"))
    return str(api.runs("PT-3H", "PT0S", state="FAILED").json()[0]["runId"])


def test_runs_list_json_and_table(
    tmp_path: Path, server: Server, org: Org, failed_run: str
) -> None:
    env = _reader_env(tmp_path, server, org)
    as_json = jobtrail("runs", "list", "--since", "3h", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    runs = orjson.loads(as_json.stdout)
    assert [r["state"] for r in runs] == ["SUCCEEDED", "FAILED"]
    assert runs[1]["runId"] == failed_run
    table = jobtrail("runs", "list", "--from", "P-6D", "--to", "PT0S", env=env)  # over 96 h
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if failed_run in line)
    assert "FAILED" in row
    assert "run-dbt" in row  # the failed step
    assert "PT7S" in row


def test_runs_show_tree_and_stderr_tail(
    tmp_path: Path, server: Server, org: Org, failed_run: str
) -> None:
    shown = jobtrail("runs", "show", failed_run, env=_reader_env(tmp_path, server, org))
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert out.index("git-clone-cache") < out.index("run-dbt")
    assert "Database Error" in out.split("stderr")[-1]


def test_login_writes_a_private_profile_and_commands_use_it(
    tmp_path: Path, server: Server, org: Org, failed_run: str
) -> None:
    key = org.keys["read"]
    env = _env(tmp_path)
    login = jobtrail(
        "login", "--server", server.url, "--org", org.id, "--api-key-id", key.key.key_id,
        "--api-key", key.secret, "--profile", "work", env=env,
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    assert key.secret not in login.stdout + login.stderr
    path = tmp_path / "home" / ".config" / "jobtrail" / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = jobtrail("runs", "list", "--json", "--profile", "work", env=env)
    assert listed.returncode == 0, listed.stderr
    assert failed_run in {r["runId"] for r in orjson.loads(listed.stdout)}
    wrong = jobtrail(
        "login", "--server", server.url, "--org", org.id, "--api-key-id", key.key.key_id,
        "--api-key", "wrong", env=env,
    )  # fmt: skip
    assert wrong.returncode == 1
    assert "refused" in wrong.stderr


def test_a_missing_setting_names_every_flag_and_variable(tmp_path: Path) -> None:
    proc = jobtrail("runs", "list", env=_env(tmp_path))
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())
    for name in ("--server", "JOBTRAIL_SERVER", "--org", "JOBTRAIL_ORG", "--api-key",
                 "JOBTRAIL_API_KEY", "jobtrail login"):  # fmt: skip
        assert name in message, message


def test_logs_follow_prints_every_line_once_and_ends_with_the_step(
    tmp_path: Path, server: Server, org: Org, api: Api
) -> None:
    def chunk(seq: int, text: str) -> dict[str, object]:
        return event("log", ago(seconds=1), "tail", step="s", stream="stdout", data=text, seq=seq)

    api.ingest([event("step", ago(seconds=5), "tail", step="s", state="RUNNING"), chunk(0, "a\n")])
    (run,) = api.runs("PT-1H", "PT0S").json()
    env = _reader_env(tmp_path, server, org)
    cmd = [sys.executable, "-m", "jobtrail.cli", "logs", run["runId"], "s", "--follow"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the follow is open and has sent what there was
    assert first == "a\n"
    api.ingest([chunk(1, "b\nc"), chunk(2, "\n")])
    api.ingest(
        [chunk(1, "b\nc"), event("step", ago(seconds=0), "tail", step="s", state="SUCCEEDED")]
    )
    timer = threading.Timer(60, proc.kill)
    timer.start()
    rest, err = proc.communicate()
    timer.cancel()
    assert proc.returncode == 0, err
    assert first + rest == "a\nb\nc\n"


def test_logs_tail_and_stderr(tmp_path: Path, server: Server, org: Org, failed_run: str) -> None:
    env = _reader_env(tmp_path, server, org)
    proc = jobtrail("logs", failed_run, "run-dbt", "--stderr", "--tail", "1", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Database Error\n"


def test_runs_watch_draws_running_runs_first(
    tmp_path: Path, server: Server, org: Org, api: Api
) -> None:
    api.ingest(simple_run(ago(hours=1), "done") + simple_run(ago(minutes=5), "live")[:5])
    env = _reader_env(tmp_path, server, org)
    proc = jobtrail("runs", "watch", "--count", "1", "--interval", "0", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "1 running" in proc.stdout
    assert proc.stdout.index("RUNNING") < proc.stdout.index("SUCCEEDED")
