"""Runner overhead and output throughput (issue: runner and scheduler).

1. A 50-step DAG of trivial commands through `jobtrail run --parallel 1` against the same
   commands in a plain shell script (each through `sh -c`, as the runner spawns them), in the
   same run: the ratio of wall times (target at most 1.5). Shown for `true` (pure spawning) and
   for steps that do a little work (`sleep 0.01`, `sleep 0.1`); also the ratio once the fixed
   start-up (interpreter, imports, token) is taken off, the overhead per step, and the floor:
   the ratio of the barest Python loop that spawns the same commands (no capture, no reports).
2. One step writing 100 MB to stdout: MB/s until all of it is on the server (target at least
   50 MB/s), and the runner's memory growth over a trivial run (target under 50 MiB)."""

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _harness import Api, _sqlite, make_org, rss_kib, serve

STEPS = 50
OUTPUT_BYTES = 100_000_000


def _spec(command: str, chain: bool) -> str:
    lines = ["job: bench", "environment: bench", "steps:"]
    for i in range(STEPS):
        needs = f", needs: [s{i - 1}]" if chain and i else ""
        lines.append(f"  - {{name: s{i}, run: '{command}'{needs}}}")
    return "\n".join(lines) + "\n"


def _run(spec: str, folder: Path, env: dict[str, str], server: str) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one `jobtrail run`."""
    path = folder / f"job-{time.monotonic_ns()}.yaml"
    path.write_text(spec)
    cmd = [sys.executable, "-m", "jobtrail.cli", "run", str(path), "--server", server]
    cmd += ["--parallel", "1", "--workdir", str(folder), "--spool", str(folder / "spool")]
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            try:
                peak[0] = max(peak[0], rss_kib(proc.pid))
            except OSError:
                return
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    code = proc.wait()
    elapsed = time.perf_counter() - began
    sampler.join()
    assert code == 0, f"jobtrail run failed ({code})"
    return elapsed, peak[0]


def _shell(command: str, folder: Path) -> float:
    script = folder / "plain.sh"
    script.write_text("set -e\n" + "".join(f"sh -c '{command}'\n" for _ in range(STEPS)))
    began = time.perf_counter()
    subprocess.run(["sh", str(script)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def _bare_python(command: str) -> float:
    """The floor for any runner written in Python: the interpreter starting and spawning the
    same commands in a loop, capturing and reporting nothing."""
    loop = f"import subprocess\nfor _ in range({STEPS}):\n"
    loop += f"    subprocess.run(['/bin/sh', '-c', {command!r}], check=True)\n"
    began = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", loop], check=True)
    return time.perf_counter() - began


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, _sqlite() as db_url:
        folder = Path(tmp)
        cap = str(200 * 1024 * 1024)
        with serve(db_url, JOBTRAIL_LOG_STREAM_CAP=cap) as (server, engine):
            org = make_org(engine)
            key = org.keys["ingest"]
            env = {
                **os.environ,
                "JOBTRAIL_ORG": org.id,
                "JOBTRAIL_API_KEY_ID": key.key.key_id,
                "JOBTRAIL_API_KEY": key.secret,
            }
            print(f"runner overhead: {STEPS}-step chain, --parallel 1, reporting over HTTP")
            idle = "job: idle\nenvironment: bench\nsteps:\n  - {name: s, run: 'true'}\n"
            start_up = statistics.median(_run(idle, folder, env, server.url)[0] for _ in range(5))
            print(f"  start-up and delivery of a one-step run (median of 5): {start_up:.2f} s")
            for command in ("true", "sleep 0.01", "sleep 0.1"):
                plain = statistics.median(_shell(command, folder) for _ in range(3))
                spec = _spec(command, chain=True)
                runner = statistics.median(_run(spec, folder, env, server.url)[0] for _ in range(3))
                after = runner - start_up
                per_step = (after - plain) / STEPS * 1000
                floor = statistics.median(_bare_python(command) for _ in range(3))
                print(
                    f"  {command:10s} runner {runner:5.2f} s  shell script {plain:5.2f} s  "
                    f"ratio {runner / plain:5.2f} (target <= 1.5); after start-up "
                    f"{after / plain:4.2f}, {per_step:+.1f} ms/step; floor {floor / plain:4.2f}"
                )
            _, idle_peak = _run(
                'job: idle\nenvironment: bench\nsteps:\n  - {name: s, run: "true"}\n',
                folder,
                env,
                server.url,
            )
            line = "x" * 99
            big = f'steps:\n  - {{name: big, run: "yes {line} | head -c {OUTPUT_BYTES}"}}\n'
            elapsed, peak = _run(
                f"job: bench-out\nenvironment: bench\n{big}", folder, env, server.url
            )
            api = Api(server, org, "read")
            (run,) = [r for r in api.runs("PT-1H", "PT0S").json() if r["jobName"] == "bench-out"]
            logs = api.get(
                f"/jobs/v1/runs/{run['runId']}/steps/big/logs/stdout", params={"limit": 0}
            )
            stored = int(logs.headers["x-jobtrail-log-bytes"])
            api.close()
            mb = OUTPUT_BYTES / 1e6
            print(
                f"output: {mb:.0f} MB from one step, {stored:,} bytes stored; "
                f"{mb / elapsed:.0f} MB/s end to end, {mb / (elapsed - start_up):.0f} MB/s after "
                f"the {start_up:.1f} s start-up (target >= 50); runner memory growth "
                f"{(peak - idle_peak) / 1024:.1f} MiB over a trivial run (target < 50 MiB)"
            )


if __name__ == "__main__":
    main()
