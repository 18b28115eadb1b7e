"""The console application: :func:`create_app` wires routes and middlewares around one :class:`Console`.

>>> app = create_app(WebConfig(data_dir=Path("/var/lib/radguard")))   # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8080)                       # doctest: +SKIP
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import Response

from radguard import __version__
from radguard.errors import StoreError
from radguard.web.config import WebConfig
from radguard.web.security import (
    Guard,
    SecurityHeaders,
)
from radguard.web.state import Console


def create_app(config: WebConfig) -> FastAPI:
    """The console as an ASGI application (uvicorn serves it; tests use FastAPI's TestClient)."""
    from radguard.web import alerts, api, auth_routes, gateways, governance, integrity, pages

    console = Console(config)
    app = FastAPI(title="radguard console API", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json",
                  description="JSON twin of every page of the console; the shapes follow the CLI's --json schemas. "
                              "State-changing calls need the session cookie and the X-CSRF-Token header.")
    app.state.console = console

    @app.exception_handler(StoreError)
    async def _store_down(request: Request, exc: StoreError) -> Response:
        return console.store_down_response(request.scope, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in e.get("loc", ())[1:]) or "body" for e in exc.errors()[:5])
        return console.error_response(request.scope, 400, "Malformed request", f"Check these fields: {fields}.")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        titles = {400: "Bad request", 401: "Not logged in", 403: "Forbidden", 404: "Not found", 405: "Not allowed",
                  409: "Conflict", 429: "Too many attempts"}
        return console.error_response(request.scope, exc.status_code, titles.get(exc.status_code, "Error"),
                                      str(exc.detail), login_link=exc.status_code == 401,
                                      headers=dict(exc.headers or {}))

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _starlette_http(request: Request, exc: StarletteHTTPException) -> Response:
        return await _http(request, HTTPException(exc.status_code, exc.detail, headers=exc.headers))

    for module in (auth_routes, pages, gateways, alerts, integrity, governance, api):
        app.include_router(module.router)
    app.add_middleware(Guard, console=console)
    app.add_middleware(SecurityHeaders, console=console)  # added last = outermost
    return app
