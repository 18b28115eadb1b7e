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


def test_a_connect_refused_on_loopback_is_settled_inside_connect() -> None:
    """The sweep's fast path: on loopback the RST (or the handshake) happens inside connect()."""
    import errno

    with socket.socket() as s:
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", _closed_port()))
        outcome = identify.connect_outcome(s) if err in identify.IN_PROGRESS else err
    assert outcome == errno.ECONNREFUSED
    with socket.socket() as listener, socket.socket() as s:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        s.setblocking(False)
        err = s.connect_ex(listener.getsockname())
        assert (identify.connect_outcome(s) if err in identify.IN_PROGRESS else err) == 0


@pytest.mark.parametrize("per_host,concurrency", [(1, 1), (2, 3), (4, 64)])
def test_the_sweep_keeps_port_order_and_gives_back_every_permit(per_host: int, concurrency: int) -> None:
    """Closed, open (a peer that answers garbage and hangs up) and unanswered ports on one host, in any bound:
    results in the order of the ports, the right states, and no permit kept."""
    listener = socket.socket()  # accept queue full: a SYN to it is dropped
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    full = listener.getsockname()[1]
    held: list[socket.socket] = []

    async def go() -> tuple[list[tuple[int, PortState]], int, int]:
        async def garbage(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"\xff\xfe garbage\r\n")
            writer.close()

        servers = [await asyncio.start_server(garbage, "127.0.0.1", 0) for _ in range(2)]
        open_ports = [s.sockets[0].getsockname()[1] for s in servers]
        for _ in range(8):  # fill the accept queue
            try:
                held.append(await identify.connect_tcp("127.0.0.1", full, 0.3))
            except TimeoutError:
                break
        ports = [_closed_port(), open_ports[0], _closed_port(), full, _closed_port(), open_ports[1]]
        scanner = Scanner(ScanOptions(ports=ports, timeout=0.5, per_host=per_host, concurrency=concurrency))
        [host] = [h async for h in scanner.run(["127.0.0.1"])]
        for s in servers:
            s.close()
        return [(p.port, p.state) for p in host.ports], ports[3], scanner._global._value

    try:
        states, filtered_port, permits = asyncio.run(go())
    finally:
        for s in held:
            s.close()
        listener.close()
    assert [s for _, s in states] == [PortState.CLOSED, PortState.OPEN, PortState.CLOSED, PortState.FILTERED,
                                      PortState.CLOSED, PortState.OPEN]
    assert states[3][0] == filtered_port
    assert permits == concurrency


def test_a_port_line_is_the_json_of_its_dict() -> None:
    """The spool's fast line for a port where nothing answered is exactly ``json.dumps(to_dict())``."""
    import json

    from radguard.assess.identify import ServiceKind
    from radguard.assess.results import PortResult
    from radguard.models import Asset

    ports = [PortResult(host="127.0.0.1", port=104, state=PortState.CLOSED),
             PortResult(host="::1", port=11112, state=PortState.FILTERED),
             PortResult(host='pacs"\\x.example', port=1, state=PortState.CLOSED),
             PortResult(host="127.0.0.1", port=4242, state=PortState.OPEN, service=ServiceKind.DICOM,
                        asset=Asset(kind="dicom", target="127.0.0.1:4242", product="dcmtk", version="3.6.7"))]
    for p in ports:
        assert p.json_line() == json.dumps(p.to_dict()) + "\n"
        assert json.loads(p.json_line()) == p.to_dict()


def test_no_socket_to_be_had_is_a_filtered_port_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    """Out of file descriptors (EMFILE) for some connects: those ports end filtered, the others are scanned,
    every permit comes back."""
    import errno
    import types

    from radguard.assess import scanner as scanner_module

    calls = 0

    def flaky(*args: object, **kwargs: object) -> socket.socket:
        nonlocal calls
        calls += 1
        if calls % 2 == 0:
            raise OSError(errno.EMFILE, "Too many open files")
        return socket.socket(*args, **kwargs)  # type: ignore[arg-type]

    shim = types.SimpleNamespace(**{k: getattr(socket, k) for k in dir(socket) if not k.startswith("__")})
    shim.socket = flaky
    monkeypatch.setattr(scanner_module, "socket", shim)
    ports = [_closed_port() for _ in range(6)]

    async def go() -> tuple[list[PortState], int]:
        scanner = Scanner(ScanOptions(ports=ports, timeout=1.0, per_host=3, concurrency=4))
        [host] = [h async for h in scanner.run(["127.0.0.1"])]
        return [p.state for p in host.ports], scanner._global._value

    states, permits = asyncio.run(asyncio.wait_for(go(), 10))
    assert states == [PortState.CLOSED, PortState.FILTERED] * 3 and permits == 4
