"""What the rate limits cost a request: p50/p95 of a small authenticated GET with the limits on
(generous, so nothing is refused) beside the same server with them off, measured in one run.
The limiter admits from memory and settles with the store in the background, so the two should
be within noise. `--rounds N` (default 2000) sets the requests per measurement."""

import argparse
import time

from _harness import Api, backends, make_org, percentile, serve

LIMITS_ON = {
    "JOBTRAIL_RATE_LIMIT_KEY_RATE": "100000",
    "JOBTRAIL_RATE_LIMIT_ORG_RATE": "100000",
    "JOBTRAIL_RATE_LIMIT_KEY_BURST": "100000",
    "JOBTRAIL_RATE_LIMIT_ORG_BURST": "100000",
}


def latencies(apis: dict[str, Api], rounds: int) -> dict[str, list[float]]:
    """Requests to the two servers in turn, so that load from elsewhere hits both alike."""
    for api in apis.values():
        for _ in range(50):  # warm up: connections, code paths, the limiter's first sight
            api.get("")
    out: dict[str, list[float]] = {label: [] for label in apis}
    for _ in range(rounds):
        for label, api in apis.items():
            start = time.perf_counter()
            resp = api.get("")
            out[label].append(time.perf_counter() - start)
            assert resp.status_code == 200, resp.text
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    print(f"GET /organizations/{{org}} x {rounds}: rate limits on vs off (ms)")
    for name, backend in backends():
        with (
            backend() as db_url,  # type: ignore[operator]
            serve(db_url) as (plain, engine),
            serve(db_url, **LIMITS_ON) as (limited, _engine),
        ):
            org = make_org(engine)
            apis = {"off": Api(plain, org, "read"), "on": Api(limited, org, "read")}
            times = latencies(apis, rounds)
            for api in apis.values():
                api.close()
        off, on = ((percentile(times[k], 50) * 1000, percentile(times[k], 95) * 1000) for k in apis)
        print(
            f"  {name:8} off p50 {off[0]:.2f} p95 {off[1]:.2f} | on p50 {on[0]:.2f} "
            f"p95 {on[1]:.2f} | ratio p50 {on[0] / off[0]:.2f}"
        )


if __name__ == "__main__":
    main()
