"""Phishing results fetched from a GoPhish REST API over TLS on loopback: GET /api/campaigns/ID/results with the
API key in the Authorization header, GoPhish's 401/404 error bodies, certificate verification."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from radguard.errors import UsageError
from radguard.govern.training_fetch import fetch_campaign
from tests.support.gophish import Target, campaign_results, results_json
from tests.support.tlspeers import Certs

KEY = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
DOC = campaign_results(7, "Q4 PACS licence", [Target("ann@example.org", "Ann", "T", "Tech", "clicked"),
                                              Target("bob@example.org", "Bob", "R", "Rad", "sent", reported=True)])


class _GoPhish(BaseHTTPRequestHandler):
    """GoPhish's api.Server as far as the results endpoint goes (RequireAPIKey, JSONError bodies)."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        self.seen.append(auth)
        key = auth.removeprefix("Bearer ")
        if not key:
            return self._send(401, {"message": "API Key not set", "success": False, "data": None})
        if key != KEY:
            return self._send(401, {"message": "Invalid API Key", "success": False, "data": None})
        if self.path != "/api/campaigns/7/results":
            return self._send(404, {"message": "Campaign not found", "success": False, "data": None})
        body = results_json(DOC).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send(self, code: int, doc: dict[str, object]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gophish(certs: Certs) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GoPhish)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.good_cert, certs.good_key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_with_the_key_in_the_authorization_header(gophish: str, certs: Certs) -> None:
    camp = fetch_campaign(gophish, 7, KEY, cafile=certs.ca)
    assert (camp.name, camp.gophish_id, camp.source) == ("Q4 PACS licence", 7, "json")
    assert [r.email for r in camp.results] == ["ann@example.org", "bob@example.org"]
    assert _GoPhish.seen[-1] == f"Bearer {KEY}"
    assert fetch_campaign(gophish + "/", 7, KEY, insecure=True).name == "Q4 PACS licence"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"api_key": "wrong"}, "HTTP 401: Invalid API Key"),
    ({"campaign": 8}, "HTTP 404: Campaign not found"),
    ({"cafile": None}, "CERTIFICATE_VERIFY_FAILED"),
])
def test_errors_are_one_line(gophish: str, certs: Certs, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"campaign": 7, "api_key": KEY, "cafile": certs.ca, **kwargs}
    with pytest.raises(UsageError) as exc:
        fetch_campaign(gophish, args["campaign"], str(args["api_key"]), cafile=args["cafile"])  # type: ignore[arg-type]
    assert message in str(exc.value) and "\n" not in str(exc.value) and KEY not in str(exc.value)


def test_the_cli(gophish: str, certs: Certs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                 tmp_path: Path) -> None:
    from radguard.cli.main import main

    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,role,department,email\nct-01,Ann,technologist,CT,ann@example.org\n")
    assert main(["train", "roster", "import", str(roster)]) == 0
    args = ["train", "phish", "fetch", gophish, "--campaign", "7", "--cafile", str(certs.ca), "--json"]
    assert main(args) == 2 and "set GOPHISH_API_KEY" in capsys.readouterr().err
    monkeypatch.setenv("GOPHISH_API_KEY", KEY)
    capsys.readouterr()
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.train-phish-import/1" and doc["source"].endswith("/api/campaigns/7/results")
    assert doc["departments"]["CT"]["clicked"] == 1 and doc["funnel"]["reported"] == 1
    assert main(["train", "phish", "fetch", "ftp://127.0.0.1", "--campaign", "7"]) == 2
    assert "expected http(s)://HOST" in capsys.readouterr().err
