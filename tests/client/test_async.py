"""`AsyncJobsClient` is the same core driven by asyncio: the same answers as `JobsClient`."""

from jobtrail.client.aio import AsyncJobsClient
from tests.support import Api, Server, ago, run_on_own_loop, simple_run


def test_async_client_lists_reads_and_ingests(server: Server, api: Api) -> None:
    org = api.org
    api.ingest(simple_run(ago(hours=1), "async", fail=True))
    read, ingest = org.keys["read"], org.keys["ingest"]

    async def main() -> None:
        async with AsyncJobsClient(server.url, org.id, read.key.key_id, read.secret) as client:
            (run,) = await client.list_runs("P-6D", "PT0S")
            streamed = [r["runId"] async for r in client.iter_runs("PT-2H", "PT0S")]
            assert streamed == [run["runId"]]
            detail = await client.get_run(run["runId"])
            assert [s["name"] for s in await client.get_steps(run["runId"])] == [
                s["name"] for s in detail["steps"]
            ]
            step = await client.get_step(run["runId"], "run-dbt")
            assert step["stderr"] == "Database Error\n"
            lines = [line async for line in client.logs(run["runId"], "run-dbt", "stdout")]
            assert lines == ["1 of 2 OK"]
        async with AsyncJobsClient(server.url, org.id, ingest.key.key_id, ingest.secret) as writer:
            again = await writer.ingest(simple_run(ago(hours=1), "async", fail=True))
            assert again["accepted"] + again["duplicates"] == 9

    run_on_own_loop(main())
