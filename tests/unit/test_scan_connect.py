"""The scanner's cheap connect path (issue 15): IP literals skip the resolver; a refused port is a bare
socket's ConnectionRefusedError; an accepting one becomes streams. Real sockets on loopback."""

from __future__ import annotations

import asyncio
import socket

import pytest

from radguard.assess import identify
from radguard.assess.identify import PortState
from radguard.assess.scanner import Scanner, ScanOptions


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_then_accepted() -> None:
    async def go() -> bytes:
        with pytest.raises(ConnectionRefusedError):
            await identify.connect_tcp("127.0.0.1", _closed_port(), 2.0)
        def greet(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"hi")
            writer.close()

        server = await asyncio.start_server(greet, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await identify.streams(await identify.connect_tcp("127.0.0.1", port, 2.0))
        data = await reader.read()
        writer.close()
        server.close()
        return data

    assert asyncio.run(go()) == b"hi"


def test_ip_literals_are_not_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    scanner = Scanner(ScanOptions(ports=[_closed_port()], timeout=2.0))

    async def no_resolver(*_a: object, **_k: object) -> None:
        raise AssertionError("getaddrinfo called for an IP literal")

    async def go() -> list[PortState]:
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_resolver)
        assert await scanner._resolve("::1") == "::1"
        result = await scanner.scan_host("127.0.0.1")
        return [p.state for p in result.ports]

    assert asyncio.run(go()) == [PortState.CLOSED]


def test_a_connect_nobody_answers_times_out() -> None:
    """A listener whose accept queue is full drops the SYN (Linux): the connect gets no answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held: list[socket.socket] = []

    async def go() -> None:
        try:
            for _ in range(8):  # fill the accept queue; then a SYN is dropped
                held.append(await identify.connect_tcp("127.0.0.1", port, 0.3))
        except TimeoutError:
            return
        raise AssertionError("every connect was answered")

    try:
        asyncio.run(go())
    finally:
        for s in held:
            s.close()
        listener.close()
