"""The gateway's own TLS handshake (gateway/tls_accept.py): real handshakes on loopback with Python's ssl clients,
each failure told apart, the untrusted certificate's subject read from the handshake, and a good session
carrying data through the ChunkReader afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from radguard.audittrail.trail import AuditTrail
from radguard.gateway import bus as ev
from radguard.gateway import streams
from radguard.gateway.addons.audit import GatewayAudit
from radguard.gateway.hostile import Hostility
from radguard.gateway.tls_accept import HandshakeContext, Refusal, accept_tls, certificate_subject, refusal_of
from tests.unit.test_audit_syslog import make_certs

Result = tuple[Refusal | None, bytes]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pki")
    ca, cert, key = make_certs(tmp / "server", cn="localhost")
    client_ca, client_cert, client_key = make_certs(tmp / "client", cn="CT01")
    _, rogue_cert, rogue_key = make_certs(tmp / "rogue", cn="ROGUE-WS")
    return {"ca": ca, "cert": cert, "key": key, "client_ca": client_ca, "client_cert": client_cert,
            "client_key": client_key, "rogue_cert": rogue_cert, "rogue_key": rogue_key}


def _server_context(pki: dict[str, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki["cert"], pki["key"])
    ctx.load_verify_locations(pki["client_ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _client_context(pki: dict[str, Path], cert: str | None = "client", *,
                    version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki["ca"])
    if cert:
        ctx.load_cert_chain(pki[f"{cert}_cert"], pki[f"{cert}_key"])
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def _serve_one(pki: dict[str, Path], client: object, timeout: float = 5.0) -> Result:
    """Accept one connection with the gateway's code; ``client(port)`` runs in a thread. Returns the refusal
    (None: a TLS session) and what a good session carried from the client."""
    out: list[Result] = []

    async def main() -> None:
        tls = HandshakeContext(_server_context(pki), _server_context(pki))
        done = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            refusal = await accept_tls(reader, writer, tls, timeout)
            data = b""
            if refusal is None:
                assert writer.get_extra_info("ssl_object").context is tls.context  # settled: no callback
                data = await reader.read(65536)
                writer.write(data[::-1])
                await writer.drain()
                writer.close()
            out.append((refusal, data))
            done.set()

        srv = await streams.start_server(handler, "127.0.0.1", 0, deferred=True)
        port = srv.sockets[0].getsockname()[1]
        thread = threading.Thread(target=client, args=(port,), daemon=True)  # type: ignore[arg-type]
        thread.start()
        await asyncio.wait_for(done.wait(), timeout + 5)
        srv.close()
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 10)

    asyncio.run(main())
    return out[0]


def _tls_client(ctx: ssl.SSLContext, payload: bytes = b"A-ASSOCIATE-RQ") -> object:
    def run(port: int) -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                    ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(payload)
                s.recv(100)
        except (OSError, ssl.SSLError):
            pass
    return run


def _raw_client(data: bytes) -> object:
    def run(port: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(data)
            with contextlib.suppress(OSError):
                s.recv(100)
    return run


def test_a_good_client_gets_a_session_that_carries_data(pki: dict[str, Path]) -> None:
    refusal, data = _serve_one(pki, _tls_client(_client_context(pki)))
    assert refusal is None and data == b"A-ASSOCIATE-RQ"


def test_no_client_certificate_is_node_authentication_failure(pki: dict[str, Path]) -> None:
    refusal, _ = _serve_one(pki, _tls_client(_client_context(pki, cert=None)))
    assert refusal is not None and refusal.kind is Hostility.TLS_NO_CERTIFICATE and refusal.subject is None


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_an_untrusted_certificate_is_refused_with_its_subject(pki: dict[str, Path], version: ssl.TLSVersion) -> None:
    refusal, _ = _serve_one(pki, _tls_client(_client_context(pki, cert="rogue", version=version)))
    assert refusal is not None and refusal.kind is Hostility.TLS_UNTRUSTED_CERTIFICATE
    assert refusal.subject == "CN=ROGUE-WS" and "not trusted" in refusal.detail


def test_plain_dicom_garbage_silence_and_a_stalled_hello(pki: dict[str, Path]) -> None:
    assoc_rq = b"\x01\x00\x00\x00\x00\x44" + bytes(0x44)
    cases = [(_raw_client(assoc_rq), Hostility.CLEARTEXT_ON_TLS), (_raw_client(b"GET / HTTP/1.0\r\n\r\n"),
                                                                   Hostility.NOT_TLS),
             (_raw_client(b"\x16\x03\x01\x00\xff" + bytes(10)), Hostility.TLS_HANDSHAKE_TIMEOUT)]
    for client, kind in cases:
        refusal, _ = _serve_one(pki, client, timeout=0.5)
        assert refusal is not None and refusal.kind is kind, (kind, refusal)
    refusal, _ = _serve_one(pki, lambda port: socket.create_connection(("127.0.0.1", port)).close(), timeout=0.3)
    # closed without a byte (a health check): no hostile act
    assert refusal == Refusal(None)


def test_refusal_names_the_failure() -> None:
    exc = ssl.SSLError(1, "no shared cipher")
    exc.reason = "NO_SHARED_CIPHER"
    assert refusal_of(exc, None, 30).kind is Hostility.TLS_MISMATCH
    exc.reason = "SSLV3_ALERT_BAD_CERTIFICATE"
    refused = refusal_of(exc, None, 30)
    assert refused.kind is Hostility.TLS_HANDSHAKE_FAILED and "SSLV3_ALERT_BAD_CERTIFICATE" in refused.detail
    timeout = refusal_of(ConnectionAbortedError("SSL handshake is taking longer than 30 seconds"), None, 30)
    assert timeout.kind is Hostility.TLS_HANDSHAKE_TIMEOUT
    assert refusal_of(ConnectionResetError(), None, 30).kind is Hostility.TLS_HANDSHAKE_FAILED


def test_certificate_subject_from_both_message_forms(pki: dict[str, Path]) -> None:
    der = x509.load_pem_x509_certificate(pki["rogue_cert"].read_bytes()).public_bytes(serialization.Encoding.DER)
    entry = len(der).to_bytes(3, "big") + der
    tls12 = len(entry).to_bytes(3, "big") + entry
    tls13 = b"\x00" + (len(entry) + 2).to_bytes(3, "big") + entry + b"\x00\x00"
    for body, version in ((tls12, 0x0303), (tls13, 0x0304)):
        message = b"\x0b" + len(body).to_bytes(3, "big") + body
        assert certificate_subject(message, version) == "CN=ROGUE-WS"
    assert certificate_subject(b"\x0b\x00\x00\x03\x00\x00\x00", 0x0303) is None  # empty list: no certificate
    assert certificate_subject(b"\x0b\x00\x00\x09\x00\x00\x06\x00\x00\x03abc", 0x0303) is None  # not DER
    assert certificate_subject(b"\x0b", 0x0304) is None


def test_the_audit_record_names_the_certificate_subject(tmp_path: Path) -> None:
    trail = AuditTrail(jsonl=tmp_path / "a.jsonl")
    bus = ev.EventBus()
    GatewayAudit(trail, lambda: "RADGUARD", lambda: ("ORTHANC", "127.0.0.1")).subscribe(bus)
    bus.publish(ev.HostileConnection("127.0.0.8", Hostility.TLS_UNTRUSTED_CERTIFICATE,
                                     "client certificate not trusted: unable to get local issuer certificate",
                                     "CN=ROGUE-WS,O=Elsewhere"))
    bus.publish(ev.HostileConnection("127.0.0.9", Hostility.TLS_NO_CERTIFICATE, "no client certificate"))
    assert trail.flush()
    trail.close()
    docs = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    untrusted, missing = (d["objects"][0]["details"] for d in docs)
    assert [d["event_types"] for d in docs] == [["110126"]] * 2
    assert untrusted["certificate_subject"] == "CN=ROGUE-WS,O=Elsewhere"
    assert untrusted["kind"] == "tls-untrusted-certificate" and "certificate_subject" not in missing
