"""Request helpers shared by the routes: the console, the session, role checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Concatenate, ParamSpec

from fastapi import HTTPException, Request
from starlette.responses import Response

from radguard.web.accounts import role_at_least
from radguard.web.security import Session
from radguard.web.state import Console


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


P = ParamSpec("P")


def render_view(request: Request, template: str, view: Callable[Concatenate[Console, P], Mapping[str, Any]],
                *args: P.args, **kwargs: P.kwargs) -> Response:
    """A read-only page: ``template`` rendered with what ``view(console, *args, **kwargs)`` returns."""
    console = console_of(request)
    return console.render(template, view(console, *args, **kwargs), request=request)


def session_of(request: Request) -> Session:
    """The session the guard attached (every route but the login page has one)."""
    session = request.scope.get("state", {}).get("session")
    if not isinstance(session, Session):
        raise HTTPException(401, "Log in first.")
    return session


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def require(role: str) -> Callable[[Request], Session]:
    """Dependency: the session of a user with at least ``role`` (403 otherwise, audited)."""

    def check(request: Request) -> Session:
        session = session_of(request)
        if not role_at_least(session.user.role, role):
            console_of(request).audit.refused(session.user.name, client_of(request),
                                              f"{request.method} {request.url.path}: needs role {role}")
            raise HTTPException(403, f"This needs the {role} role; you are {session.user.role}.")
        return session

    return check
