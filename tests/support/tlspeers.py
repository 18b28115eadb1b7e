"""TLS DICOM peers and misbehaving peers for the scanner tests.

- :func:`make_certs`: an openssl-generated test CA, a good server certificate (CA-signed,
  RSA 2048, SAN IP 127.0.0.1 + DNS localhost) and a weak one (self-signed, RSA 1024, expired).
- :func:`start_tls_storescp`: DCMTK ``storescp +tls``; ``weak=True`` runs it with an OpenSSL
  config that allows TLS 1.0 at SECLEVEL 0 and the retired AES profile (static-RSA CBC suites),
  ``weak=False`` with the BCP 195 extended profile (TLS 1.2+, ECDHE + AEAD).
- :class:`HostilePeer`: a TCP server that misbehaves in one :class:`Misbehaviour` way.
"""

from __future__ import annotations

import contextlib
import enum
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from radguard.dicom.enums import AbortReason, AbortSource, ContextResult
from radguard.dicom.pdu import Abort, AssociateAccept, PresentationContext
from tests.support.peers import LOOPBACK, Peer, dcmtk_env, free_port, wait_port

WEAK_OPENSSL_CONF = """openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1
CipherString = ALL:@SECLEVEL=0
"""

_CA_CNF = """[ca]
default_ca = CA_default
[CA_default]
dir = .
database = ./index.txt
serial = ./serial
new_certs_dir = .
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = copy
[policy_any]
commonName = supplied
"""


@dataclass(frozen=True)
class Certs:
    dir: Path
    ca: Path
    good_key: Path
    good_cert: Path
    weak_key: Path
    weak_cert: Path

    @property
    def good_pem_bundle(self) -> Path:
        """Certificate + key in one PEM (Orthanc's SslCertificate)."""
        bundle = self.dir / "good-bundle.pem"
        if not bundle.exists():
            bundle.write_text(self.good_cert.read_text() + self.good_key.read_text())
        return bundle


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(directory: Path) -> Certs:
    """Generate the test CA, the good and the weak server certificates with the openssl CLI."""
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
             "-subj", "/CN=radguard test CA", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "good.key", "-out", "good.csr",
             "-subj", "/CN=localhost", cwd=d)
    _openssl("x509", "-req", "-in", "good.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "good.pem", "-days", "30", "-sha256", "-extfile", "san.ext", cwd=d)
    weak = d / "weakca"
    weak.mkdir(exist_ok=True)
    (weak / "index.txt").write_text("")
    (weak / "serial").write_text("01\n")
    (weak / "ca.cnf").write_text(_CA_CNF)
    _openssl("req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "../weak.key", "-out", "weak.csr",
             "-subj", "/CN=weak-pacs", cwd=weak)
    _openssl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", "../weak.key", "-in", "weak.csr",
             "-out", "../weak.pem", "-startdate", "20200101000000Z", "-enddate", "20210101000000Z", cwd=weak)
    return Certs(dir=d, ca=d / "ca.pem", good_key=d / "good.key", good_cert=d / "good.pem",
                 weak_key=d / "weak.key", weak_cert=d / "weak.pem")


def start_tls_storescp(tmp_path: Path, certs: Certs, *, weak: bool, ae: str = "TLSSCP") -> Peer:
    """DCMTK ``storescp +tls`` on a free port (see module docstring for the weak/good profiles)."""
    workdir = Path(tempfile.mkdtemp(prefix="tlsscp-", dir=tmp_path))
    (workdir / "store").mkdir()
    port = free_port()
    env = dcmtk_env()
    if weak:
        conf = workdir / "openssl-weak.cnf"
        conf.write_text(WEAK_OPENSSL_CONF)
        env["OPENSSL_CONF"] = str(conf)
        tls = ["+tls", str(certs.weak_key), str(certs.weak_cert), "+pa"]
    else:
        tls = ["+tls", str(certs.good_key), str(certs.good_cert), "+pz"]
    cmd = ["storescp", "-aet", ae, "-od", str(workdir / "store"), "-ic", *tls, str(port)]
    log = workdir / "storescp.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=fh, stderr=subprocess.STDOUT, env=env)
    wait_port(LOOPBACK, port, proc=proc)
    return Peer(host=LOOPBACK, port=port, ae=ae, workdir=workdir, proc=proc, log=log)


class Misbehaviour(enum.Enum):
    ABORT_MID_ASSOCIATION = "abort"  # accepts the association, aborts at the first P-DATA
    GARBAGE_PDU = "garbage"  # answers the A-ASSOCIATE-RQ with an undecodable A-ASSOCIATE-AC
    SLOW_DRIP = "drip"  # sends a valid A-ASSOCIATE-AC one byte every 0.3 s
    HUGE_PDU_LENGTH = "huge"  # announces a 4 GiB PDU
    SILENT = "silent"  # accepts TCP, never answers


def _accept_pdu() -> bytes:
    return AssociateAccept(
        called_ae="ANY", calling_ae="ANY",
        contexts=[PresentationContext(1, None, ["1.2.840.10008.1.2"], ContextResult.ACCEPTANCE)],
        implementation_class_uid="1.2.3.999.1", implementation_version_name="HOSTILE_1",
    ).encode()


class HostilePeer:
    """A loopback TCP server that misbehaves; one thread per connection, stopped by :meth:`stop`."""

    def __init__(self, mode: Misbehaviour) -> None:
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(16)
        self.host, self.port = LOOPBACK, int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _read_pdu(self, conn: socket.socket) -> bytes:
        head = b""
        while len(head) < 6:
            chunk = conn.recv(6 - len(head))
            if not chunk:
                return b""
            head += chunk
        length = struct.unpack(">L", head[2:6])[0]
        body = b""
        while len(body) < length:
            chunk = conn.recv(min(65536, length - len(body)))
            if not chunk:
                break
            body += chunk
        return head + body

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        with contextlib.suppress(OSError), conn:
            if not self._read_pdu(conn) and self.mode is not Misbehaviour.SILENT:
                return
            if self.mode is Misbehaviour.SILENT:
                self._stop.wait(30)
            elif self.mode is Misbehaviour.GARBAGE_PDU:
                conn.sendall(b"\x02\x00\x00\x00\x00\x0a" + os.urandom(10))
                self._stop.wait(5)
            elif self.mode is Misbehaviour.HUGE_PDU_LENGTH:
                conn.sendall(b"\x02\x00\xff\xff\xff\xf0" + bytes(1024))
                self._stop.wait(5)
            elif self.mode is Misbehaviour.SLOW_DRIP:
                for byte in _accept_pdu():
                    conn.sendall(bytes([byte]))
                    if self._stop.wait(0.3):
                        return
            elif self.mode is Misbehaviour.ABORT_MID_ASSOCIATION:
                conn.sendall(_accept_pdu())
                if self._read_pdu(conn):
                    conn.sendall(Abort(AbortSource.SERVICE_PROVIDER, AbortReason.NOT_SPECIFIED).encode())
                time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.close()
        self._thread.join(timeout=2)

    def __enter__(self) -> HostilePeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class DicomWebStub:
    """A minimal DICOMweb QIDO-RS endpoint over HTTPS: ``GET /dicom-web/studies`` answers ``[]``
    (application/dicom+json) without credentials; everything else is 404.

    ``weak=True``: TLS 1.0+ at SECLEVEL 0 with the weak certificate; otherwise TLS 1.2+ AEAD/ECDHE suites
    with the good certificate.
    """

    def __init__(self, certs: Certs, *, weak: bool) -> None:
        import ssl
        import warnings
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/dicom-web/studies":
                    body, status, ctype = b"[]", 200, "application/dicom+json"
                else:
                    body, status, ctype = b"not found", 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if weak:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.set_ciphers("ALL:@SECLEVEL=0")
            ctx.load_cert_chain(certs.weak_cert, certs.weak_key)
        else:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")
            ctx.load_cert_chain(certs.good_cert, certs.good_key)
        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
        self.host, self.port = LOOPBACK, int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=2)
