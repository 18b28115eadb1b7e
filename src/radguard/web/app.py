"""The console application: :class:`Console` (the state of one process) and :func:`create_app`.

>>> app = create_app(WebConfig(data_dir=Path("/var/lib/radguard")))   # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8080)                       # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from radguard import __version__
from radguard.errors import StoreError
from radguard.report.render import environment
from radguard.store import Store, open_store
from radguard.store.console import count_users, get_session
from radguard.web.audit import ConsoleAudit
from radguard.web.config import WebConfig
from radguard.web.keys import load_or_create_key
from radguard.web.security import (
    Guard,
    LoginLimiter,
    SecurityHeaders,
    Session,
    session_cookie_name,
    token_hash_from_cookie,
)

#: seconds between two attempts to open a store that could not be opened
REOPEN_AFTER = 1.0


class StoreProvider:
    """Opens the store on first use and again after a failed open; a store that comes back is used again."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._failed_at = 0.0
        self._last_error: StoreError | None = None

    def get(self) -> Store:
        with self._lock:
            if self._store is None:
                if self._last_error is not None and time.monotonic() - self._failed_at < REOPEN_AFTER:
                    raise self._last_error
                try:
                    self._store = open_store(self.url)
                except StoreError as exc:
                    self._failed_at, self._last_error = time.monotonic(), exc
                    raise
            return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _style_hash() -> str:
    """CSP hash of the one inline stylesheet of ``base.html.j2`` (rendered, so it follows the template)."""
    html = environment().get_template("base.html.j2").render()
    match = re.search(r"<style>(.*?)</style>", html, re.S)
    css = match.group(1) if match else ""
    return "sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()


class Console:
    """Everything one console process holds: settings, key, store, audit trail, login limiter, caches."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.key = load_or_create_key(config.data_dir)
        self.stores = StoreProvider(config.store_url)
        self.audit = ConsoleAudit(config.audit_path, config.audit_syslog)
        self.limiter = LoginLimiter(config.login_window_seconds, config.login_max_failures_per_client)
        self.csp = ("default-src 'none'; img-src 'self'; style-src '" + _style_hash() + "'; form-action 'self'; "
                    "frame-ancestors 'none'; base-uri 'none'")
        self.cookie = session_cookie_name(config.tls)
        self.cache: dict[str, tuple[Any, Any]] = {}
        self.confirmations: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------- store and sessions
    def store(self) -> Store:
        return self.stores.get()

    def has_accounts(self) -> bool:
        return count_users(self.store()) > 0

    def session_for(self, request: Request) -> Session | None:
        token_hash = token_hash_from_cookie(self.key, request.cookies.get(self.cookie))
        if token_hash is None:
            return None
        found = get_session(self.store(), token_hash)
        return Session(user=found[0], csrf=found[1], token_sha256=token_hash) if found else None

    def session_expiry(self) -> datetime:
        return datetime.now(UTC) + timedelta(minutes=self.config.session_minutes)

    def cached(self, name: str, key: Any, make: Any) -> Any:
        """``make()`` once per ``key`` (e.g. the store's fingerprint) under ``name``."""
        with self._lock:
            hit = self.cache.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = make()
        with self._lock:
            self.cache[name] = (key, value)
        return value

    # ------------------------------------------------------------- responses
    def render(self, template: str, context: Mapping[str, Any], status: int = 200,
               request: Request | None = None) -> HTMLResponse:
        session = request.scope.get("state", {}).get("session") if request is not None else None
        html = environment().get_template(template).render({
            "session": session, "now": datetime.now(UTC), "gateways_configured": bool(self.config.gateway_configs),
            **context})
        return HTMLResponse(html, status_code=status)

    def error_response(self, scope: Mapping[str, Any], status: int, title: str, message: str, *,
                       login_link: bool = False, headers: Mapping[str, str] | None = None) -> Response:
        if str(scope.get("path", "")).startswith("/api/"):
            return JSONResponse({"schema": "radguard.error/1", "status": status, "error": title, "detail": message},
                                status_code=status, headers=dict(headers or {}))
        session = scope.get("state", {}).get("session")
        html = environment().get_template("web/error.html.j2").render(
            status=status, title=title, message=message, login_link=login_link, session=session,
            now=datetime.now(UTC), gateways_configured=False)
        return HTMLResponse(html, status_code=status, headers=dict(headers or {}))

    def store_down_response(self, scope: Mapping[str, Any], exc: StoreError) -> Response:
        return self.error_response(scope, 503, "Store unreachable",
                                   f"{exc}. The console keeps running and uses the store again as soon as it "
                                   "answers: reload this page in a moment.", headers={"retry-after": "5"})

    def redirect_to_login(self, path: str) -> Response:
        target = "/login" if path in ("/", "/logout") else f"/login?next={quote(path, safe='/')}"
        return RedirectResponse(target, status_code=303)

    def close(self) -> None:
        self.audit.close()
        self.stores.close()


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
