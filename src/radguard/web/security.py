"""The console's own defenses, as two ASGI middlewares and their helpers.

- :class:`SecurityHeaders` (outermost): strict headers on **every** response — pages, redirects,
  errors, the login page — including ``Content-Security-Policy`` with ``frame-ancestors 'none'``
  (no scripts at all, the one inline stylesheet by hash); an exception becomes a plain 500 page
  without a traceback.
- :class:`Guard`: authentication, then the CSRF token of every state-changing request (the login
  form included, by a double-submit cookie), both **before** the route parses or validates the
  body: no session → 401 (or a redirect to the login page for a page view), bad token → 403.

OWASP ASVS 4.0 V3 (sessions), V4 (access control), V14.4 (headers); 45 CFR 164.312(a)(1), (d).
"""

from __future__ import annotations

import abc
import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

from radguard.errors import StoreError
from radguard.store.console import WebUser
from radguard.web.accounts import role_at_least

if TYPE_CHECKING:
    from radguard.web.audit import ConsoleAudit
    from radguard.web.config import WebConfig

log = logging.getLogger("radguard.web")


class Console(Protocol):
    """What the middlewares need of the console (:class:`radguard.web.state.Console` is one): no import of it."""

    config: WebConfig
    key: bytes
    csp: str
    audit: ConsoleAudit

    def session_for(self, request: Request) -> Session | None: ...

    def error_response(self, scope: Mapping[str, Any], status: int, title: str, message: str, *,
                       login_link: bool = False, headers: Mapping[str, str] | None = None) -> Response: ...

    def store_down_response(self, scope: Mapping[str, Any], exc: StoreError) -> Response: ...

    def redirect_to_login(self, path: str) -> Response: ...

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: the largest body a state-changing request may carry (forms and small JSON documents)
MAX_BODY = 64 * 1024
#: paths served without a session
PUBLIC = frozenset({"/login"})
LOGIN_COOKIE = "rg_login"
#: paths that need more than the viewer role, checked here too (before any body is read)
ROLE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/(api/)?gateways?/\d+/(contain|confirm)$"), "operator"),
    (re.compile(r"^/(api/)?findings/\d+/accept$"), "operator"),
    (re.compile(r"^/(api/)?users(/.*)?$"), "admin"),
)


def session_cookie_name(tls: bool) -> str:
    """``__Host-`` prefixed over TLS (Secure, host-only, Path=/ enforced by the browser)."""
    return "__Host-rg_session" if tls else "rg_session"


def sign(key: bytes, purpose: str, value: str) -> str:
    mac = hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def new_session_token(key: bytes) -> tuple[str, str]:
    """(cookie value, SHA-256 of the token kept in the store)."""
    token = secrets.token_urlsafe(32)
    return f"{token}.{sign(key, 'session', token)}", hashlib.sha256(token.encode()).hexdigest()


def token_hash_from_cookie(key: bytes, cookie: str | None) -> str | None:
    """The stored hash of a well-signed session cookie, or None (forged cookies never reach the store)."""
    if not cookie or cookie.count(".") != 1:
        return None
    token, mac = cookie.split(".")
    if not hmac.compare_digest(mac, sign(key, "session", token)):
        return None
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    """The user of a request and the CSRF token of their session."""

    user: WebUser
    csrf: str
    token_sha256: str


class LoginLimiter:
    """Failed logins per client address in a sliding window (in memory; an account's lockout is in the store)."""

    def __init__(self, window: float, max_failures: int) -> None:
        self.window = window
        self.max_failures = max_failures
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        q = self._failures.setdefault(client, deque())
        cutoff = time.monotonic() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def blocked(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: now)."""
        q = self._recent(client)
        if len(q) < self.max_failures:
            return 0.0
        return max(1.0, q[0] + self.window - time.monotonic())

    def failed(self, client: str) -> None:
        self._recent(client).append(time.monotonic())
        if len(self._failures) > 10_000:  # bound memory under a spray from many addresses
            for c in [c for c, q in self._failures.items() if not q][:5000]:
                del self._failures[c]


def security_headers(csp: str, tls: bool) -> list[tuple[str, str]]:
    headers = [
        ("content-security-policy", csp),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), usb=(), payment=(), interest-cohort=()"),
        ("cache-control", "no-store"),
    ]
    if tls:
        headers.append(("strict-transport-security", "max-age=31536000; includeSubDomains"))
    return headers


class _Middleware(abc.ABC):
    """An ASGI middleware over the console: HTTP requests go to :meth:`http`, anything else passes."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    @abc.abstractmethod
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request (the subclass's whole job)."""


class SecurityHeaders(_Middleware):
    """Add the security headers to every response; turn an unhandled exception into a bare 500 page."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        extra = security_headers(self.console.csp, self.console.config.tls)

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("console: unhandled error on %s", scope.get("path"))
            if started:
                raise
            response = self.console.error_response(scope, 500, "Internal error",
                                                   "The console could not answer this request; it is logged.")
            await response(scope, receive, send_with_headers)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None if it is longer than ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body = message.get("body", b"")
        size += len(body)
        if size > limit:
            return None
        chunks.append(body)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _form_field(body: bytes, content_type: str, name: str) -> str | None:
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return None
    try:
        values = parse_qs(body.decode("utf-8"), max_num_fields=50).get(name)
    except (UnicodeDecodeError, ValueError):
        return None
    return values[0] if values else None


class Guard(_Middleware):
    """Authenticate every request but the login page; check the CSRF token of every state-changing one."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        console = self.console
        request = Request(scope)
        path, method = scope["path"], scope["method"]
        client = request.client.host if request.client else None
        api = path.startswith("/api/")
        if method in STATE_CHANGING:
            declared = request.headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
                await console.error_response(scope, 413, "Request too large", "The body is too large.")(
                    scope, receive, send)
                return
        if path in PUBLIC:
            if method in STATE_CHANGING:
                body = await _read_body(receive, MAX_BODY)
                nonce = request.cookies.get(LOGIN_COOKIE, "")
                token = _form_field(body or b"", request.headers.get("content-type", ""), "csrf")
                if body is None or not nonce or not token or not hmac.compare_digest(
                        token, sign(console.key, "login", nonce)):
                    console.audit.refused(None, client, f"{method} {path}: login form without a valid CSRF token")
                    await console.error_response(scope, 403, "Form refused",
                                                 "This form has no valid token (it may be forged or stale): "
                                                 "reload the login page and try again.", login_link=True)(
                        scope, receive, send)
                    return
                receive = _replay(body)
            await self.app(scope, receive, send)
            return
        try:
            session = await run_in_threadpool(console.session_for, request)
        except StoreError as exc:
            await console.store_down_response(scope, exc)(scope, receive, send)
            return
        if session is None:
            if method in STATE_CHANGING or api:
                console.audit.refused(None, client, f"{method} {path}: no session")
                await console.error_response(scope, 401, "Not logged in", "Log in first.", login_link=True)(
                    scope, receive, send)
                return
            await console.redirect_to_login(path)(scope, receive, send)
            return
        scope.setdefault("state", {})["session"] = session
        needed = next((role for pattern, role in ROLE_RULES if pattern.match(path)), None)
        if needed is not None and not role_at_least(session.user.role, needed):
            console.audit.refused(session.user.name, client, f"{method} {path}: needs role {needed}")
            await console.error_response(scope, 403, "Forbidden",
                                         f"This needs the {needed} role; you are {session.user.role}.")(
                scope, receive, send)
            return
        if method in STATE_CHANGING:
            # the body is read here, bounded, whatever carries the token: a chunked body without a
            # Content-Length cannot grow past MAX_BODY behind a valid X-CSRF-Token either
            body = await _read_body(receive, MAX_BODY)
            if body is None:
                await console.error_response(scope, 413, "Request too large", "The body is too large.")(
                    scope, receive, send)
                return
            receive = _replay(body)
            token = request.headers.get("x-csrf-token")
            if token is None:
                token = _form_field(body, request.headers.get("content-type", ""), "csrf")
            if not token or not hmac.compare_digest(token, session.csrf):
                console.audit.refused(session.user.name, client, f"{method} {path}: missing or wrong CSRF token")
                await console.error_response(scope, 403, "Form refused",
                                             "This request has no valid CSRF token (a forged or stale form): "
                                             "go back, reload the page and try again.")(scope, receive, send)
                return
        await self.app(scope, receive, send)
