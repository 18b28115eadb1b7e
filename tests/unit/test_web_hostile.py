"""Hostile requests to the console: replayed forms, forged session cookies, oversized bodies, malformed
filters and unknown ids get a clear 4xx (never a 500 or a traceback), with the strict headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from radguard.store import Store
from tests.unit.test_web_security import (  # noqa: F401 - fixture
    PASSWORD,
    assert_strict_headers,
    csrf_of,
    login,
    login_token,
    make_client,
    users,
)
from tests.unit.test_web_security import store as store

BIG = "9" * 30
DAY = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")


def _clear_4xx(r: object, status: int) -> None:
    code, text = r.status_code, r.text  # type: ignore[attr-defined]
    assert code == status, (code, text[:200])
    assert "Traceback" not in text
    assert_strict_headers(r.headers)  # type: ignore[attr-defined]


def test_replayed_forms_are_refused(tmp_path: Path, users: Store) -> None:  # noqa: F811
    client = make_client(tmp_path)
    assert login(client, "otto") == 303
    old = csrf_of(client)
    form = {"csrf": old, "reason": "segmented VLAN", "expires": DAY}
    assert client.post("/findings/1/accept", data=form, follow_redirects=False).status_code == 303
    assert client.post("/logout", data={"csrf": old}, follow_redirects=False).status_code == 303
    # the same form after logout: no session any more
    _clear_4xx(client.post("/findings/1/accept", data=form, follow_redirects=False), 401)
    # logged in again: the form of the old session carries a dead token
    assert login(client, "otto") == 303
    _clear_4xx(client.post("/findings/1/accept", data=form, follow_redirects=False), 403)
    _clear_4xx(client.post("/api/findings/1/accept", json={"reason": "x", "expires": DAY},
                           headers={"x-csrf-token": old}), 403)
    # another user's token does not work in this session
    other = make_client(tmp_path)
    assert login(other, "ada") == 303
    _clear_4xx(client.post("/findings/1/accept", data={**form, "csrf": csrf_of(other)}, follow_redirects=False), 403)
    # a login form replayed after its use: the login token is bound to the browser, a stolen one is refused
    thief = make_client(tmp_path)
    _clear_4xx(thief.post("/login", data={"name": "otto", "password": PASSWORD, "csrf": login_token(client)}), 403)
    assert len(users.findings(1)) == 1  # nothing was written by the refused requests
    from radguard.store.console import list_acceptances

    assert len(list_acceptances(users)) == 1


def _sign(key: bytes, token: str) -> str:
    mac = hmac.new(key, f"session\x00{token}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def test_forged_session_cookies_are_refused(tmp_path: Path, users: Store) -> None:  # noqa: F811
    client = make_client(tmp_path)
    assert login(client, "ada") == 303
    real = client.cookies.get("rg_session")
    assert real
    token = real.split(".")[0]
    wrong_key = secrets.token_bytes(32)
    key = client.app.state.console.key  # type: ignore[attr-defined]
    forged = [
        f"{token}.{_sign(wrong_key, token)}",  # signed with another key
        f"{secrets.token_urlsafe(32)}.{_sign(key, 'x')}",  # a signature of another token
        f"{secrets.token_urlsafe(32)}.{_sign(key, secrets.token_urlsafe(32))}",
        "a.b.c", ".", "", "x" * 5000, "%C3%A9.%C3%A9", f"{token}.", f".{real.split('.')[1]}", real + "=",
    ]
    # well signed by the site key but never issued (the store does not know it): refused as well
    unknown = secrets.token_urlsafe(32)
    forged.append(f"{unknown}.{_sign(key, unknown)}")
    for cookie in forged:
        c = make_client(tmp_path)
        c.cookies.set("rg_session", cookie)
        _clear_4xx(c.get("/api/overview"), 401)
        r = c.get("/findings", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        _clear_4xx(c.post("/findings/1/accept", data={"csrf": "x", "reason": "r", "expires": DAY}), 401)


def test_oversized_bodies_are_refused_before_parsing(tmp_path: Path, users: Store) -> None:  # noqa: F811
    client = make_client(tmp_path)
    assert login(client, "otto") == 303
    token = csrf_of(client)
    huge_form = b"csrf=" + token.encode() + b"&reason=" + b"a" * (65 * 1024) + b"&expires=" + DAY.encode()
    _clear_4xx(client.post("/findings/1/accept", content=huge_form,
                           headers={"content-type": "application/x-www-form-urlencoded"}), 413)
    _clear_4xx(client.post("/api/findings/1/accept", content=b'{"reason": "' + b"a" * (65 * 1024) + b'"}',
                           headers={"content-type": "application/json", "x-csrf-token": token}), 413)

    def chunks() -> object:  # no Content-Length: the body is counted as it arrives
        for _ in range(80):
            yield b"a" * 1024

    _clear_4xx(client.post("/api/findings/1/accept", content=chunks(),  # type: ignore[arg-type]
                           headers={"content-type": "application/json", "x-csrf-token": token}), 413)
    _clear_4xx(client.post("/login", content=b"name=" + b"a" * (65 * 1024),
                           headers={"content-type": "application/x-www-form-urlencoded"}), 413)
    # under the limit but over a field's length: a clear 400
    r = client.post("/findings/1/accept", data={"csrf": token, "reason": "r" * 3000, "expires": DAY})
    _clear_4xx(r, 400)


def test_malformed_filters_and_unknown_ids_are_4xx(tmp_path: Path, users: Store) -> None:  # noqa: F811
    client = make_client(tmp_path)
    assert login(client, "otto") == 303
    token = csrf_of(client)
    cases = {
        f"/runs/{BIG}": 404, f"/findings/{BIG}": 404, "/runs/0": 404, "/findings/-5": 404, "/findings/1.5": 400,
        "/runs/0x10": 400, f"/findings?run={BIG}": 400, f"/findings/diff?a={BIG}&b=1": 400,
        "/findings?target=%00": 400, "/findings?rule=a%01b": 400, "/findings?after=high.1": 400,
        f"/findings?after=high.{BIG}.1": 400, "/runs?kind=%00": 400, "/alerts?text=%00": 400,
        "/alerts?kind=%7f": 400, "/findings?severity=%00": 400, "/plots/..%2F..%2Fetc.svg": 404,
        f"/gateway/{BIG}/confirm?action=peer&peer=X": 404, "/gateway/0/confirm?action=bogus": 400,
    }
    for path, status in cases.items():
        for prefix in ("", "/api"):
            if prefix and path.startswith(("/plots", "/gateway")):
                continue
            r = client.get(prefix + path)
            assert r.status_code == status, (prefix + path, r.status_code, r.text[:200])
            assert "Traceback" not in r.text
            assert_strict_headers(r.headers)
    for path in (f"/findings/{BIG}/accept", "/findings/0/accept"):
        _clear_4xx(client.post(path, data={"csrf": token, "reason": "r", "expires": DAY}), 404)
        _clear_4xx(client.post("/api" + path, json={"reason": "r", "expires": DAY},
                               headers={"x-csrf-token": token}), 404)
    _clear_4xx(client.post(f"/api/gateways/{BIG}/contain", json={"action": "peer", "peer": "X", "confirm": True},
                           headers={"x-csrf-token": token}), 404)
