"""The HTTP floor for benchmarks/lineage.py: FastAPI under the same uvicorn settings as
`jobtrail serve`, with an endpoint that reads the body and stores nothing."""

from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()


@app.post("/api/v1/lineage")
async def noop(request: Request) -> Response:
    await request.body()
    return Response(b'{"accepted":1,"duplicates":0}', media_type="application/json")


@app.get("/readyz")
async def ready() -> Response:
    return Response(b"ok")
