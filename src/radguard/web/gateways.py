"""The gateway view: state and counters of each running gateway, and containment from the browser.

The console talks to a gateway only through :func:`radguard.gateway.control.send_control` (the
control socket and token file named by its ``gateway.toml``, ``--gateway-config``). Containment
(NIST SP 800-61r2 §3.3.1; 45 CFR 164.308(a)(6)(ii)) takes two steps: a confirmation page carrying a
one-time nonce bound to the user, gateway, action and peer, then the POST that applies it; a replayed
confirmation is refused (409). Only operators and admins contain; every attempt is audited.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from radguard.audittrail.codes import EventTypeCode
from radguard.errors import RadguardError
from radguard.web.deps import client_of, console_of, require
from radguard.web.security import Session
from radguard.web.state import Console

router = APIRouter()

#: containment actions people can choose (``status`` is read by the page itself)
ACTIONS: dict[str, str] = {
    "peer": "Shut this peer out (refuse its associations, abort the open ones)",
    "read-only": "Read-only (refuse C-STORE)",
    "downtime": "Downtime (refuse every association, abort the open ones)",
    "release": "Release (lift containment)",
}
CONFIRM_SECONDS = 300.0
CONTROL_TIMEOUT = 2.0


def _config(console: Console, index: int) -> Any:
    from radguard.gateway.config import load_config

    paths = console.config.gateway_configs
    if not 0 <= index < len(paths):
        raise HTTPException(404, f"No gateway #{index} (the console knows {len(paths)}; see --gateway-config).")
    try:
        return load_config(paths[index])
    except RadguardError as exc:
        raise HTTPException(502, f"The gateway's configuration cannot be read: {exc}") from None


def gateway_states(console: Console) -> list[dict[str, Any]]:
    """One entry per ``--gateway-config``: its peers and, if it answers, its live state and counters."""
    from radguard.gateway.control import send_control

    out: list[dict[str, Any]] = []
    for i, path in enumerate(console.config.gateway_configs):
        entry: dict[str, Any] = {"index": i, "name": Path(path).stem, "config": str(path), "reachable": False,
                                 "state": None, "open_associations": None, "stats": {}, "peers": [], "error": None,
                                 "associations": [], "strangers": {}}
        counts: dict[str, Any] = {}
        try:
            from radguard.gateway.config import load_config

            cfg = load_config(path)
            entry["listen"] = f"{cfg.listen[0]}:{cfg.listen[1]}" if cfg.listen else None
            reply = send_control(cfg, "status", None, timeout=CONTROL_TIMEOUT)
        except RadguardError as exc:
            entry["error"] = str(exc)
            cfg = None
        else:
            entry.update(reachable=True, state=reply.get("state"), open_associations=reply.get("open_associations"),
                         stats=dict(sorted((reply.get("stats") or {}).items())),
                         associations=list(reply.get("associations") or []))
            counts = dict(reply.get("peers") or {})
        if cfg is not None:
            state = entry["state"] or {}
            entry["peers"] = [{"ae": ae, "contained": ae in state.get("peers", ()),
                               "read_only": state.get("read_only", False) or ae in state.get("read_only_peers", ()),
                               "counts": dict(counts.get(ae) or {})}
                              for ae in sorted(cfg.peers)]
            # calling AE titles the gateway saw that the configuration does not name (refused guesses, attackers)
            entry["strangers"] = {ae: dict(c) for ae, c in sorted(counts.items()) if ae not in cfg.peers}
        out.append(entry)
    return out


def _check_action(action: str, peer: str | None) -> None:
    if action not in ACTIONS:
        raise HTTPException(400, f"Unknown action {action!r} (one of {', '.join(ACTIONS)}).")
    if action == "peer" and not peer:
        raise HTTPException(400, "Shutting a peer out needs its AE title.")
    if action == "downtime" and peer:
        raise HTTPException(400, "Downtime applies to the whole gateway: no peer.")
    if peer is not None and (len(peer) > 16 or not peer.strip()):
        raise HTTPException(400, "An AE title has 1 to 16 characters.")


def apply(console: Console, session: Session, client: str | None, index: int, action: str,
          peer: str | None) -> dict[str, Any]:
    """Send one containment action to gateway ``index``; audited whatever the outcome."""
    from radguard.gateway.control import send_control

    cfg = _config(console, index)
    what = f"contain {action}{' ' + peer if peer else ''} on gateway {Path(console.config.gateway_configs[index]).stem}"
    try:
        reply = send_control(cfg, action, peer, timeout=CONTROL_TIMEOUT, console_user=session.user.name)
    except RadguardError as exc:
        console.audit.action(session.user.name, client, what + f": failed ({exc})", subject=peer, ok=False,
                             kind=EventTypeCode.NETWORK_CONFIGURATION)
        raise HTTPException(502, f"The gateway did not apply it: {exc}") from None
    console.audit.action(session.user.name, client, what, subject=peer, kind=EventTypeCode.NETWORK_CONFIGURATION)
    return {k: v for k, v in reply.items() if k != "ok"}


@router.get("/gateway", include_in_schema=False)
def gateway_page(request: Request) -> Response:
    console = console_of(request)
    return console.render("web/gateway.html.j2", {"gateways": gateway_states(console), "actions": ACTIONS},
                          request=request)


@router.get("/gateway/{index}/confirm", include_in_schema=False)
def confirm_page(request: Request, index: int, action: str = "", peer: str = "",
                 session: Session = Depends(require("operator"))) -> Response:
    console = console_of(request)
    _check_action(action, peer or None)
    _config(console, index)
    nonce = secrets.token_urlsafe(24)
    now = time.monotonic()
    for k in [k for k, (exp, _) in console.confirmations.items() if exp < now]:
        console.confirmations.pop(k, None)
    console.confirmations[nonce] = (now + CONFIRM_SECONDS, (session.user.name, str(index), action, peer))
    return console.render("web/confirm.html.j2", {
        "index": index, "name": Path(console.config.gateway_configs[index]).stem, "action": action,
        "label": ACTIONS[action], "peer": peer, "nonce": nonce}, request=request)


@router.post("/gateway/{index}/contain", include_in_schema=False)
def contain_form(request: Request, index: int, action: str = Form(..., max_length=16),
                 peer: str = Form("", max_length=64), nonce: str = Form(..., max_length=64),
                 session: Session = Depends(require("operator"))) -> Response:
    console = console_of(request)
    entry = console.confirmations.pop(nonce, None)
    if entry is None or entry[0] < time.monotonic() or entry[1] != (session.user.name, str(index), action, peer):
        console.audit.refused(session.user.name, client_of(request), f"contain {action}: replayed or stale form")
        raise HTTPException(409, "This confirmation was already used, has expired or does not match: "
                                 "start again from the gateway page.")
    _check_action(action, peer or None)
    result = apply(console, session, client_of(request), index, action, peer or None)
    return console.render("web/contained.html.j2", {
        "index": index, "action": action, "peer": peer, "result": result,
        "name": Path(console.config.gateway_configs[index]).stem}, request=request)


class ContainRequest(BaseModel):
    """A containment action through the API (``confirm`` must be true: the API's confirmation step)."""

    action: str = Field(max_length=16)
    peer: str | None = Field(default=None, max_length=16)
    confirm: bool = False


@router.get("/api/gateways", tags=["gateway"])
def gateways_json(request: Request) -> dict[str, Any]:
    """State, counters and peers of every configured gateway."""
    return {"schema": "radguard.gateways/1", "gateways": gateway_states(console_of(request))}


@router.post("/api/gateways/{index}/contain", tags=["gateway"])
def contain_json(request: Request, index: int, body: ContainRequest,
                 session: Session = Depends(require("operator"))) -> dict[str, Any]:
    """Contain (``peer``, ``read-only``, ``downtime``) or ``release``; the shape of ``radguard contain --json``."""
    _check_action(body.action, body.peer)
    if not body.confirm:
        raise HTTPException(400, "Set \"confirm\": true to apply a containment action.")
    result = apply(console_of(request), session, client_of(request), index, body.action, body.peer)
    return {"schema": "radguard.contain/1", **result}
