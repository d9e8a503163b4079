"""OpenAPI document and Swagger UI, served from the package (no CDN: self-hosted installs are
often offline), with the bearer-token Authorize button."""

from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from jobtrail.domain.events import event_batch_schema
from jobtrail.wire.paths import DOCS, OPENAPI

OPENAPI_URL = OPENAPI
DOCS_URL = DOCS
_STATIC = f"{DOCS_URL}/static"


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title="jobtrail Jobs API",
        version=app.version,
        description=(
            "Job runs and their steps, with stdout/stderr, for monitoring and alerting. "
            "Exchange an API key for a token at `/credentials/v3/token`, click **Authorize** "
            'and paste the token. Errors have the body `{"error": code, "message": text}`.'
        ),
        routes=app.routes,
        servers=[{"url": "/"}],
    )
    body = event_batch_schema("#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(body.pop("$defs", {}))
    components["EventBatch"] = body
    _tighten(schema)
    app.openapi_schema = schema
    return schema


def _tighten(schema: dict[str, Any]) -> None:
    """Make the document as strict as the server. Bad input is answered 400 with the error
    envelope, never FastAPI's 422, so that response and its schemas go. FastAPI lists each
    security dependency as an alternative, while jobtrail needs all of an operation's credentials
    at once (the v3 token takes the key id AND the key), so they become one requirement."""
    for methods in schema.get("paths", {}).values():
        for op in methods.values():
            op.get("responses", {}).pop("422", None)
            security = op.get("security")
            if security and len(security) > 1:
                op["security"] = [{name: [] for req in security for name in req}]
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def install_docs(app: FastAPI) -> None:
    static_dir = files("fastapi_offline") / "static"
    app.mount(_STATIC, StaticFiles(directory=str(static_dir)), name="swagger-static")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="jobtrail Jobs API",
            swagger_js_url=f"{_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{_STATIC}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": False, "tryItOutEnabled": True},
        )

    @app.get(f"{DOCS_URL}/index.html", include_in_schema=False)
    async def swagger_index() -> RedirectResponse:
        return RedirectResponse(DOCS_URL)
