"""The gateway's control socket (radguard.gateway.control) answers an oversized request with a clear error,
logs one line without a traceback and audits it (issue 16 item 9); a good request still works."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from radguard.gateway import bus as ev
from radguard.gateway.control import MAX_REQUEST, ControlServer


async def _ask(path: Path, payload: bytes) -> dict[str, Any]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(payload)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    line = await reader.readline()
    writer.close()
    reply: dict[str, Any] = json.loads(line)
    return reply


def _serve(tmp_path: Path, payloads: list[bytes], token: bool = True) -> tuple[list[dict[str, Any]], list[str]]:
    refused: list[str] = []
    bus = ev.EventBus()
    bus.subscribe(ev.ControlRefused, lambda e: refused.append(e.reason))
    short = Path("/tmp") / f"rg-ctl-{tmp_path.name[-20:]}"  # a Unix socket path must stay short

    async def main() -> list[dict[str, Any]]:
        server = ControlServer(short / "c.sock", short / "c.token",
                               lambda a, p, by, console: {"aborted": 0, "peer": p, "by": by, "console_user": console},
                               bus)
        await server.start()
        try:
            out = []
            for p in payloads:
                if token:
                    p = p.replace(b"TOKEN", server.token.encode())
                out.append(await _ask(server.path, p))
            return out
        finally:
            await server.stop()

    replies = asyncio.run(main())
    short.rmdir()
    return replies, refused


@pytest.mark.parametrize("size", [MAX_REQUEST + 100, 100_000])
def test_an_oversized_request_is_refused_clearly(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                 size: int) -> None:
    request = json.dumps({"token": "TOKEN", "action": "peer", "peer": "A" * size}).encode() + b"\n"
    with caplog.at_level(logging.DEBUG):
        (reply,), refused = _serve(tmp_path, [request])
    assert reply == {"ok": False, "error": f"request longer than {MAX_REQUEST} bytes (an AE title has at most 16 "
                                          "characters)"}
    assert refused == [f"request longer than {MAX_REQUEST} bytes"]
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in errors] == [f"control: request longer than {MAX_REQUEST} bytes refused"]
    assert all(r.exc_info is None for r in caplog.records)  # no traceback anywhere (asyncio's own logger too)


def test_a_good_request_and_a_bad_token(tmp_path: Path) -> None:
    import os
    import pwd

    good = json.dumps({"token": "TOKEN", "action": "peer", "peer": "CT01"}).encode() + b"\n"
    console = json.dumps({"token": "TOKEN", "action": "release", "peer": None, "console_user": "alice"}).encode()
    bad = json.dumps({"token": "nope", "action": "status"}).encode() + b"\n"
    (ok, by_console, no), refused = _serve(tmp_path, [good, console + b"\n", bad])
    # who asked: the OS user of the connecting process (SO_PEERCRED), and the console user it names
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert ok == {"ok": True, "action": "peer", "aborted": 0, "peer": "CT01", "by": me, "console_user": None}
    assert by_console["by"] == me and by_console["console_user"] == "alice"
    assert no == {"ok": False, "error": "bad token"} and refused == ["bad token"]
