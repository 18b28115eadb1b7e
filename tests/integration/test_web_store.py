"""The console over PostgreSQL: an unreachable store gives a clear 503 page; the console recovers when it is back."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from radguard.store import open_store
from radguard.web.accounts import create_user
from radguard.web.app import create_app
from radguard.web.config import WebConfig
from radguard.web.state import REOPEN_AFTER
from tests.support.peers import PostgresServer
from tests.unit.test_web_security import PASSWORD, assert_strict_headers, login_token

pytestmark = pytest.mark.integration


def test_unreachable_store_gives_503_then_the_console_recovers(tmp_path: Path,
                                                               postgres_server: PostgresServer) -> None:
    name = f"web{os.getpid()}"
    url = postgres_server.url.rsplit("/", 1)[0] + f"/{name}"  # this database does not exist yet
    client = TestClient(create_app(WebConfig(data_dir=tmp_path / "web", store_url=url)),
                        base_url="http://127.0.0.1")
    assert client.get("/login").status_code == 200  # the login page itself never needs the store
    r = client.post("/login", data={"name": "ada", "password": PASSWORD, "csrf": login_token(client)})
    assert r.status_code == 503 and "Store unreachable" in r.text and "Traceback" not in r.text
    assert "retry-after" in r.headers
    assert_strict_headers(r.headers)
    assert postgres_server.create_database(name) == url
    store = open_store(url)
    create_user(store, "ada", "admin", PASSWORD)
    store.close()
    time.sleep(REOPEN_AFTER + 0.1)
    r = client.post("/login", data={"name": "ada", "password": PASSWORD, "csrf": login_token(client)},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/").status_code == 200
    assert client.get("/api/overview").json()["open"]["critical"] == 0
