"""Login, logout and the accounts page (admins only)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from radguard.store.console import (
    create_session,
    delete_session,
    get_user,
    list_users,
    record_login_failure,
    reset_login_failures,
)
from radguard.web.accounts import verify_password
from radguard.web.deps import client_of, console_of, require, session_of
from radguard.web.security import LOGIN_COOKIE, Session, new_session_token, sign

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a local path (no scheme, no host, no ``//``) may follow a login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, *, status: int = 200, message: str | None = None,
                next_path: str = "/") -> Response:
    console = console_of(request)
    # one nonce per browser: a parallel GET (the favicon's redirect, a second tab) must not void the form
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not (16 <= len(nonce) <= 64 and all(c.isalnum() or c in "-_" for c in nonce)):
        nonce = secrets.token_urlsafe(24)
    try:
        has_accounts = console.has_accounts()
    except Exception:  # the store is down: the page still shows, the POST will say why
        has_accounts = True
    response = console.render("web/login.html.j2", {
        "csrf": sign(console.key, "login", nonce), "message": message, "next": _safe_next(next_path),
        "has_accounts": has_accounts}, status=status, request=request)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict",
                        secure=console.config.tls, path="/login")
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return _login_page(request, next_path=next)


@router.post("/login")
def login(request: Request, name: str = Form("", max_length=256), password: str = Form("", max_length=1024),
          next: str = Form("/", max_length=2048)) -> Response:
    console = console_of(request)
    client = client_of(request) or "-"
    wait = console.limiter.blocked(client)
    if wait:
        console.audit.login(name, client, ok=False, reason="rate limit")
        response = _login_page(request, status=429, message=f"Too many failed logins from your address: "
                                                             f"wait {int(wait) + 1} seconds.", next_path=next)
        response.headers["retry-after"] = str(int(wait) + 1)
        return response
    store = console.store()
    user = get_user(store, name) if name else None
    now = datetime.now(UTC)
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or user.disabled or locked or not ok:
        reason = ("no such user" if user is None else "account disabled" if user.disabled
                  else "account locked" if locked else "wrong password")
        console.limiter.failed(client)
        if user is not None and not locked and not ok:
            failures = record_login_failure(store, user.id, lock_after=console.config.lock_after_failures,
                                            lock_until=now + timedelta(minutes=console.config.lock_minutes))
            if failures >= console.config.lock_after_failures:
                reason += f"; account locked for {console.config.lock_minutes} minutes"
        console.audit.login(name, client, ok=False, reason=reason)
        return _login_page(request, status=401, next_path=next, message=(
            "Wrong name or password, or the account is locked after repeated failures "
            f"(it opens again after {console.config.lock_minutes} minutes; an admin can reset the password)."))
    reset_login_failures(store, user.id)
    cookie, token_hash = new_session_token(console.key)
    create_session(store, token_sha256=token_hash, user_id=user.id, csrf=secrets.token_urlsafe(32),
                   expires=console.session_expiry())
    console.audit.login(user.name, client, ok=True)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(console.cookie, cookie, max_age=console.config.session_minutes * 60, httponly=True,
                        samesite="strict", secure=console.config.tls, path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/login", secure=console.config.tls, httponly=True, samesite="strict")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    console = console_of(request)
    session = session_of(request)
    await run_in_threadpool(delete_session, console.store(), session.token_sha256)
    console.audit.logout(session.user.name, client_of(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(console.cookie, path="/", secure=console.config.tls, httponly=True, samesite="strict")
    return response


@router.get("/users")
def users_page(request: Request, session: Session = Depends(require("admin"))) -> Response:
    console = console_of(request)
    return console.render("web/users.html.j2", {"users": list_users(console.store())}, request=request)
