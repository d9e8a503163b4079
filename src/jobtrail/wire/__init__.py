"""The Jobs API's wire contract, in one leaf package that imports nothing else of jobtrail: the
paths, the shapes of events and responses, the error codes, the limits and the one event builder.

The server, the runner, the client, the demo, the tests and the benchmarks all speak the API
through these names, so a path or a field is spelled once. The ingestion shape is validated on
the server by `domain/events.py`, which adds the constraints (lengths, ranges) to these keys; a
test checks that the two agree."""
