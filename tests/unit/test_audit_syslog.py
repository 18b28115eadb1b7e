"""Syslog transports (RFC 5424/5426/6587/5425), JSON Lines, spool: real listeners on loopback."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

from radguard.audittrail import SCHEMA_PATH
from radguard.audittrail import messages as m
from radguard.audittrail.syslog import (
    BOM,
    SyslogTarget,
    Transport,
    format_message,
    frame_octet_counting,
    make_sender,
)
from radguard.audittrail.trail import AuditTrail


def make_certs(tmp: Path, cn: str = "localhost") -> tuple[Path, Path, Path]:
    """A CA and a server certificate (SAN localhost + 127.0.0.1) for TLS tests: (ca, cert, key)."""
    import ipaddress

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "radguard test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(san, critical=False).sign(ca_key, hashes.SHA256()))
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / f"{cn}-ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp / f"{cn}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / f"{cn}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    return tmp / f"{cn}-ca.pem", tmp / f"{cn}.pem", tmp / f"{cn}.key"


class StreamCollector:
    """A syslog collector over TCP or TLS that parses octet-counted frames (RFC 6587 §3.4.1)."""

    def __init__(self, tls: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.messages: list[bytes] = []
        self._srv = socket.create_server(("127.0.0.1", port))
        self.port = self._srv.getsockname()[1]
        self._tls = tls
        self._stop = False
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self) -> None:
        self._srv.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                continue
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        if self._tls is not None:
            try:
                conn = self._tls.wrap_socket(conn, server_side=True)
            except OSError:  # a refused handshake is what some tests want
                conn.close()
                return
        buf = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b" " in buf:
                    n, _, rest = buf.partition(b" ")
                    if len(rest) < int(n):
                        break
                    self.messages.append(rest[: int(n)])
                    buf = rest[int(n):]

    def wait(self, n: int, timeout: float = 10.0) -> list[bytes]:
        end = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < end:
            time.sleep(0.02)
        return self.messages

    def close(self) -> None:
        self._stop = True
        self._srv.close()
        self._t.join(2)


def _schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMA_PATH)))


def _xml_of(message: bytes) -> etree._Element:
    header, _, body = message.partition(BOM)
    assert header.startswith(b"<85>1 ") and header.endswith(b" IHE+RFC-3881 - ")
    return etree.fromstring(body)


def _rec(i: int) -> m.AuditRecord:
    return m.instances_transferred(source_ae="CT01", source_host="127.0.0.1", dest_ae="ORTHANC", dest_host=None,
                                   patient_id=f"P{i}", study_uid=f"1.2.{i}",
                                   sop_classes={"1.2.840.10008.5.1.4.1.1.2": 1})


def test_format_and_framing() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    msg = format_message(b"<x/>", hostname="gw 1", procid="42", time=when)
    assert msg == b"<85>1 2026-01-02T03:04:05.678Z gw1 radguard 42 IHE+RFC-3881 - " + BOM + b"<x/>"
    assert frame_octet_counting(b"abc") == b"3 abc"
    assert SyslogTarget.parse("tls://127.0.0.1:6514") == SyslogTarget(Transport.TLS, "127.0.0.1", 6514)


def test_udp(tmp_path: Path) -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    sender = make_sender(SyslogTarget.parse(f"udp://127.0.0.1:{rx.getsockname()[1]}"))
    trail = AuditTrail(sender=sender, spool_dir=tmp_path / "spool", secret=b"s")
    trail.emit(_rec(1))
    trail.emit(_rec(2))
    assert trail.flush()
    got = [rx.recv(65536), rx.recv(65536)]
    trail.close()
    rx.close()
    schema = _schema()
    ids = []
    for g in got:
        doc = _xml_of(g)
        assert schema.validate(doc)
        ids.append(doc.find("EventIdentification/EventID").get("csd-code"))  # type: ignore[union-attr]
    assert ids == ["110104", "110104"]
    assert b"P1" not in got[0]


def test_tcp_spool_while_collector_down(tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens: the collector is down
    jsonl = tmp_path / "audit.jsonl"
    trail = AuditTrail(jsonl=jsonl, sender=make_sender(SyslogTarget.parse(f"tcp://127.0.0.1:{port}")),
                       spool_dir=tmp_path / "spool", retry_interval=0.1, include_patient_id=True)
    for i in range(5):
        trail.emit(_rec(i))
    assert trail.flush()
    assert trail.stats.spooled == 5 and trail.pending_spool() == 5
    # JSON Lines already written (flushed per record), with hashed patient ids
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    assert [x["event"] for x in lines] == ["110104"] * 5
    assert all(not o["id"].startswith("P") for x in lines for o in x["objects"] if o["role"] == "1")
    collector = StreamCollector(port=port)
    try:
        for i in range(5, 8):
            trail.emit(_rec(i))
        got = collector.wait(8)
        trail.close()
        assert len(got) == 8
        # order kept: spooled first, then the new ones; real patient id because include_patient_id
        pids = [next(o.get("ParticipantObjectID") for o in _xml_of(g).findall("ParticipantObjectIdentification")
                 if o.get("ParticipantObjectTypeCodeRole") == "1") for g in got]
        assert pids == [f"P{i}" for i in range(8)]
        assert trail.pending_spool() == 0
    finally:
        collector.close()


def test_spool_survives_restart(tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    target = SyslogTarget.parse(f"tcp://127.0.0.1:{port}")
    t1 = AuditTrail(sender=make_sender(target), spool_dir=tmp_path / "spool", retry_interval=0.1)
    t1.emit(_rec(1))
    t1.emit(_rec(2))
    assert t1.flush()
    t1.close(timeout=1)
    collector = StreamCollector(port=port)
    try:
        t2 = AuditTrail(sender=make_sender(target), spool_dir=tmp_path / "spool", retry_interval=0.1)
        assert len(collector.wait(2)) == 2
        t2.close()
        assert t2.pending_spool() == 0
    finally:
        collector.close()


def test_tls(tmp_path: Path) -> None:
    ca, cert, key = make_certs(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(cert), str(key))
    collector = StreamCollector(tls=server_ctx)
    try:
        sender = make_sender(SyslogTarget.parse(f"tls://localhost:{collector.port}"), ca=ca)
        trail = AuditTrail(sender=sender, spool_dir=tmp_path / "spool")
        trail.emit(m.application_activity(start=True, source_id="RADGUARD"))
        got = collector.wait(1)
        trail.close()
        assert len(got) == 1 and _schema().validate(_xml_of(got[0]))
        assert trail.stats.spooled == 0
    finally:
        collector.close()


def test_tls_untrusted_collector_is_spooled(tmp_path: Path) -> None:
    _, cert, key = make_certs(tmp_path / "a")
    other_ca, _, _ = make_certs(tmp_path / "b")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(cert), str(key))
    collector = StreamCollector(tls=server_ctx)
    try:
        sender = make_sender(SyslogTarget.parse(f"tls://localhost:{collector.port}"), ca=other_ca)
        trail = AuditTrail(sender=sender, spool_dir=tmp_path / "spool")
        trail.emit(m.application_activity(start=True, source_id="RADGUARD"))
        assert trail.flush()
        assert trail.stats.spooled == 1 and collector.messages == []
        trail.close(timeout=1)
    finally:
        collector.close()
