"""A run that ends while the server is unreachable (or refuses its key) leaves its events in the
spool, and `jobtrail flush` delivers them later; a spool that a live run still holds is left to
that run."""

from pathlib import Path

from jobtrail.domain import identity
from jobtrail.runner.spool import spools_in
from jobtrail.wire import paths
from tests.runner.conftest import OFFLINE_SPEC, jobtrail, run_offline, steps_by_name
from tests.support import Api, Org, Server, ingest_env


def test_flush_delivers_what_an_outage_left(
    tmp_path: Path, server: Server, org: Org, reader: Api
) -> None:
    env = ingest_env(org, JOBTRAIL_SPOOL=str(tmp_path / "spool"))
    run_id = run_offline(tmp_path, env, "k1")
    assert list((tmp_path / "spool").glob("*.jsonl"))
    flush = jobtrail("flush", "--server", server.url, env=env)
    assert flush.returncode == 0, flush.stderr
    assert flush.stdout.startswith("delivered ")
    assert list((tmp_path / "spool").iterdir()) == []  # spool, offset and lock files all gone
    assert steps_by_name(reader, run_id)["s"]["state"] == "SUCCEEDED"
    out = reader.get(reader.at(paths.LOGS, runId=run_id, stepName="s", stream="stdout")).text
    assert out.startswith(str(tmp_path / "runs"))


def test_a_refused_key_keeps_the_events_for_a_later_flush(
    tmp_path: Path, server: Server, org: Org, reader: Api
) -> None:
    good = ingest_env(org, JOBTRAIL_SPOOL=str(tmp_path / "spool"))
    run_id = run_offline(tmp_path, {**good, "JOBTRAIL_API_KEY": "wrong"}, "k2", server.url)
    assert reader.get(reader.at(paths.RUN, runId=run_id)).status_code == 404  # nothing got through
    flush = jobtrail("flush", "--server", server.url, env=good)
    assert flush.returncode == 0, flush.stderr
    assert steps_by_name(reader, run_id)["s"]["state"] == "SUCCEEDED"


def test_flush_leaves_a_spool_that_a_live_run_holds(
    tmp_path: Path, server: Server, org: Org, reader: Api
) -> None:
    env = ingest_env(org, JOBTRAIL_SPOOL=str(tmp_path / "spool"))
    run_id = run_offline(tmp_path, env, "k3")
    (held,) = spools_in(tmp_path / "spool")
    assert held.claim()  # as the run that writes it would, for its whole life
    flush = jobtrail("flush", "--server", server.url, env=env)
    assert flush.returncode == 0, flush.stderr
    assert "1 spools left to the runs still writing them" in flush.stdout
    assert held.pending()
    assert reader.get(reader.at(paths.RUN, runId=run_id)).status_code == 404
    held.release()
    assert jobtrail("flush", "--server", server.url, env=env).returncode == 0
    assert not held.path.exists()
    assert steps_by_name(reader, run_id)["s"]["state"] == "SUCCEEDED"


def test_flush_passes_over_what_a_crash_left_half_written(
    tmp_path: Path, server: Server, org: Org, reader: Api
) -> None:
    env = ingest_env(org, JOBTRAIL_SPOOL=str(tmp_path / "spool"))
    run_id = run_offline(tmp_path, env, "k4")
    (spool,) = spools_in(tmp_path / "spool")
    with spool.path.open("ab") as f:
        f.write(b"\x00\x01 not json\n")  # a damaged line
        f.write(b'{"kind": "step", "sta')  # the writer died in the middle of a line
    flush = jobtrail("flush", "--server", server.url, env=env)
    assert flush.returncode == 0, flush.stderr
    assert "damaged line" in flush.stderr
    assert not spool.path.exists()  # delivered and cleaned up, not kept forever
    assert steps_by_name(reader, run_id)["s"]["state"] == "SUCCEEDED"


def test_a_key_of_the_wrong_role_keeps_the_events_and_says_which_role(
    tmp_path: Path, server: Server, org: Org, reader: Api
) -> None:
    good = ingest_env(org, JOBTRAIL_SPOOL=str(tmp_path / "spool"))
    read_key = org.keys["read"]
    wrong = {
        **good,
        "JOBTRAIL_API_KEY_ID": read_key.key.key_id,
        "JOBTRAIL_API_KEY": read_key.secret,
    }
    spec = tmp_path / "job.yaml"
    spec.write_text(OFFLINE_SPEC)
    run = jobtrail(
        "run", str(spec), "--server", server.url, "--run-key", "k5", "--flush-timeout", "1",
        env=wrong,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "role ingest or admin" in run.stderr
    assert "jobtrail flush" in run.stderr
    assert list((tmp_path / "spool").glob("*.jsonl"))
    run_id = identity.run_id(org.id, identity.job_id(org.id, "test", "offline"), "k5")
    assert reader.get(reader.at(paths.RUN, runId=run_id)).status_code == 404
    flush = jobtrail("flush", "--server", server.url, env=good)
    assert flush.returncode == 0, flush.stderr
    assert steps_by_name(reader, run_id)["s"]["state"] == "SUCCEEDED"
