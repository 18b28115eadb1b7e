"""The console's own security with FastAPI's TestClient: accounts, sessions, CSRF, roles, limits, headers, audit."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from radguard.errors import UsageError
from radguard.models import Finding, Severity
from radguard.store import Store, open_store
from radguard.web.accounts import create_user, hash_password, verify_password
from radguard.web.app import create_app
from radguard.web.config import WebConfig
from radguard.web.keys import KEY_FILE, load_or_create_key

PASSWORD = "correct horse battery staple"
CSP_NEEDED = "frame-ancestors 'none'"


def make_client(tmp_path: Path, **settings: object) -> TestClient:
    config = WebConfig(data_dir=tmp_path / "web", **settings)  # type: ignore[arg-type]
    return TestClient(create_app(config), base_url="http://127.0.0.1")


def login_token(client: TestClient) -> str:
    page = client.get("/login")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> int:
    r = client.post("/login", data={"name": name, "password": password, "csrf": login_token(client)},
                    follow_redirects=False)
    return r.status_code


def csrf_of(client: TestClient) -> str:
    token: str = client.get("/api/me").json()["csrf"]
    return token


def audit_lines(tmp_path: Path) -> list[dict[str, object]]:
    client_path = tmp_path / "web" / "web-audit.jsonl"
    return [json.loads(line) for line in client_path.read_text().splitlines()] if client_path.exists() else []


def flush_audit(client: TestClient) -> None:
    client.app.state.console.audit.trail.flush()  # type: ignore[attr-defined]


@pytest.fixture()
def store() -> Iterator[Store]:
    s = open_store()
    yield s
    s.close()


@pytest.fixture()
def users(store: Store) -> Store:
    for name, role in (("ada", "admin"), ("otto", "operator"), ("vera", "viewer")):
        create_user(store, name, role, PASSWORD)
    h = store.start_run("scan", {})
    h.add_findings([Finding(rule="dicom-any-called-ae", severity=Severity.HIGH, title="<script>x</script>",
                            target="10.0.0.1:104", remediation="fix", controls=("hipaa:164.312(e)(1)",))])
    h.finish()
    return store


def assert_strict_headers(headers: object) -> None:
    h = dict(headers)  # type: ignore[call-overload]
    assert CSP_NEEDED in h["content-security-policy"]
    assert "script-src" not in h["content-security-policy"]  # default-src 'none': no script at all
    assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer" and h["cache-control"] == "no-store"
    assert "server" not in h


def test_no_account_serves_only_the_login_page_naming_adduser(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    for path in ("/", "/findings", "/gateway", "/runs/1"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
        assert_strict_headers(r.headers)
    page = client.get("/login")
    assert page.status_code == 200 and "radguard web adduser" in page.text
    assert_strict_headers(page.headers)
    assert client.get("/api/overview").status_code == 401
    assert login(client, "nobody") == 401


def test_session_key_is_made_once_owner_only_and_refused_when_loose(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "d")
    path = tmp_path / "d" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) == 32
    assert load_or_create_key(tmp_path / "d") == key
    os.chmod(path, 0o644)
    with pytest.raises(UsageError, match="readable by others"):
        load_or_create_key(tmp_path / "d")


def test_passwords_are_argon2id_and_short_ones_refused() -> None:
    h = hash_password(PASSWORD)
    assert h.startswith("$argon2id$") and PASSWORD not in h
    assert verify_password(h, PASSWORD) and not verify_password(h, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)
    with pytest.raises(ValueError, match="at least"):
        hash_password("short")


def test_login_sets_a_strict_session_cookie_and_is_audited(tmp_path: Path, users: Store) -> None:
    client = make_client(tmp_path)
    r = client.post("/login", data={"name": "ada", "password": PASSWORD, "csrf": login_token(client)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("rg_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert_strict_headers(r.headers)
    assert client.get("/").status_code == 200
    assert login(client, "ada", "wrong password!") == 401
    flush_audit(client)
    logins = [a for a in audit_lines(tmp_path) if a["event"] == "110114"]
    assert [a["outcome"] for a in logins] == ["0", "4"]
    assert logins[1]["participants"][0]["user_id"] == "ada"  # type: ignore[index]
    assert "wrong password" in str(logins[1]["description"])
    assert PASSWORD not in (tmp_path / "web" / "web-audit.jsonl").read_text()


def test_tls_cookie_is_secure_with_host_prefix_and_hsts(tmp_path: Path, users: Store) -> None:
    client = TestClient(create_app(WebConfig(data_dir=tmp_path / "web", tls=True)), base_url="https://127.0.0.1")
    r = client.post("/login", data={"name": "ada", "password": PASSWORD, "csrf": login_token(client)},
                    follow_redirects=False)
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("__Host-rg_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
    assert "max-age=" in r.headers["strict-transport-security"]


def test_login_form_needs_its_csrf_token(tmp_path: Path, users: Store) -> None:
    client = make_client(tmp_path)
    login_token(client)
    r = client.post("/login", data={"name": "ada", "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 403 and "Traceback" not in r.text
    assert_strict_headers(r.headers)
    fresh = make_client(tmp_path)  # a token without its cookie (another browser) is refused too
    r = fresh.post("/login", data={"name": "ada", "password": PASSWORD, "csrf": login_token(client)})
    assert r.status_code == 403


def test_state_changing_requests_are_refused_before_the_body_is_validated(tmp_path: Path, users: Store) -> None:
    client = make_client(tmp_path)
    garbage = {"content": b"\xff\xfe not a form", "headers": {"content-type": "application/x-www-form-urlencoded"}}
    assert client.post("/findings/1/accept", **garbage).status_code == 401  # type: ignore[arg-type]
    assert client.post("/api/gateways/0/contain", content=b"{not json").status_code == 401
    assert login(client, "otto") == 303
    assert client.post("/findings/1/accept", **garbage).status_code == 403  # type: ignore[arg-type]
    assert client.post("/api/findings/1/accept", content=b"{not json",
                       headers={"content-type": "application/json"}).status_code == 403
    # with the token, the same malformed body reaches validation: a clear 400, not a 500
    r = client.post("/api/findings/1/accept", content=b"{not json",
                    headers={"content-type": "application/json", "x-csrf-token": csrf_of(client)})
    assert r.status_code == 400 and r.json()["schema"] == "radguard.error/1"


def test_viewer_cannot_contain_or_accept_and_is_audited(tmp_path: Path, users: Store) -> None:
    client = make_client(tmp_path)
    assert login(client, "vera") == 303
    token = csrf_of(client)
    assert client.post("/api/gateways/0/contain", content=b"{broken",
                       headers={"x-csrf-token": token}).status_code == 403
    assert client.post("/gateway/0/contain", data={"csrf": token, "action": "peer", "peer": "CT01",
                                                   "nonce": "x"}).status_code == 403
    assert client.get("/gateway/0/confirm?action=peer&peer=CT01").status_code == 403
    assert client.post("/findings/1/accept", data={"csrf": token, "reason": "r", "expires": "2099-01-01"}
                       ).status_code == 403
    assert client.get("/users").status_code == 403
    flush_audit(client)
    refused = [a for a in audit_lines(tmp_path) if a["event"] == "110113"]
    assert len(refused) >= 4 and all("needs role" in str(a["description"]) for a in refused)


def test_rate_limit_per_client_and_lockout_per_account(tmp_path: Path, users: Store) -> None:
    client = make_client(tmp_path, login_max_failures_per_client=3, lock_after_failures=2, lock_minutes=15)
    assert login(client, "otto", "wrong password 1") == 401
    assert login(client, "otto", "wrong password 2") == 401  # second consecutive failure locks otto
    assert login(client, "otto") == 401  # the right password no longer opens a locked account
    r = client.post("/login", data={"name": "ada", "password": PASSWORD, "csrf": login_token(client)})
    assert r.status_code == 429 and "retry-after" in r.headers  # this client has failed 3 times
    assert_strict_headers(r.headers)
    flush_audit(client)
    reasons = [str(a["description"]) for a in audit_lines(tmp_path) if a["event"] == "110114"]
    assert any("account locked" in d for d in reasons) and any("rate limit" in d for d in reasons)


def test_logout_ends_the_session_and_forged_cookies_are_ignored(tmp_path: Path, users: Store) -> None:
    client = make_client(tmp_path)
    assert login(client, "ada") == 303
    cookie = client.cookies.get("rg_session")
    assert cookie
    token = csrf_of(client)
    assert client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    replay = make_client(tmp_path)
    replay.cookies.set("rg_session", cookie)
    assert replay.get("/", follow_redirects=False).status_code == 303  # the old cookie is dead
    forged = make_client(tmp_path)
    forged.cookies.set("rg_session", cookie.split(".")[0] + ".AAAA")
    assert forged.get("/api/overview").status_code == 401


def test_login_redirects_only_to_local_paths(tmp_path: Path, users: Store) -> None:
    client = make_client(tmp_path)
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/findings", "/findings")):
        r = client.post("/login", data={"name": "ada", "password": PASSWORD, "next": target,
                                        "csrf": login_token(client)}, follow_redirects=False)
        assert r.headers["location"] == expected


def test_bad_input_gets_clear_4xx_pages_with_headers(tmp_path: Path, users: Store) -> None:
    client = make_client(tmp_path)
    assert login(client, "ada") == 303
    audit = users.start_run("audit", {})
    audit.finish()
    cases = {"/runs/999": 404, "/findings/999": 404, "/findings?run=abc": 400, "/findings?severity=worst": 400,
             "/findings?page=0": 400, "/findings?kind=nosuch": 400, "/findings/diff?a=1&b=999": 404,
             f"/findings/diff?a=1&b={audit.id}": 400, "/findings/diff?a=x&b=1": 400, "/nowhere": 404,
             "/gateway/3/confirm?action=peer&peer=X": 404, "/api/runs/999": 404, "/findings/notanumber": 400}
    for path, status in cases.items():
        r = client.get(path)
        assert r.status_code == status, (path, r.status_code)
        assert ("Traceback" not in r.text and 'id="error-message"' in r.text) or path.startswith("/api/")
        assert_strict_headers(r.headers)
    assert "same kind" in client.get(f"/findings/diff?a=1&b={audit.id}").text


def test_pages_escape_finding_text(tmp_path: Path, users: Store) -> None:
    client = make_client(tmp_path)
    assert login(client, "ada") == 303
    for path in ("/findings", "/findings/1", "/"):
        text = client.get(path).text
        assert "<script>" not in text and "&lt;script&gt;" in text


def test_a_containment_confirmation_cannot_be_replayed(tmp_path: Path, users: Store) -> None:
    cfg = tmp_path / "gateway.toml"
    cfg.write_text('[gateway]\nlisten = "127.0.0.1:1"\nupstream = "127.0.0.1:2"\nupstream_ae = "PACS"\n'
                   'ae_title = "RADGUARD"\ncontrol = "run/control.sock"\n')
    client = make_client(tmp_path, gateway_configs=(cfg,))
    assert login(client, "otto") == 303
    page = client.get("/gateway/0/confirm?action=peer&peer=CT01")
    assert page.status_code == 200
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
    assert nonce
    form = {"csrf": csrf_of(client), "action": "peer", "peer": "CT01", "nonce": nonce.group(1)}
    assert client.post("/gateway/0/contain", data=form).status_code == 502  # no gateway runs: said plainly
    assert client.post("/gateway/0/contain", data=form).status_code == 409  # the same confirmation again
    assert client.post("/gateway/0/contain", data={**form, "nonce": "made-up"}).status_code == 409
    assert "unreachable" in client.get("/gateway").text
