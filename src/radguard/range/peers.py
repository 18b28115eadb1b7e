"""Real DICOM peers (the simulated department), started on free loopback ports.

Every peer is a real program (DCMTK storescp/dcmqrscp, Orthanc)
started from a temporary directory; nothing listens outside 127.0.0.1.
DCMTK tools get ``TCP_NODELAY=1`` (Debian's build leaves Nagle on otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

LOOPBACK = "127.0.0.1"
P = TypeVar("P")


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def dcmtk_env() -> dict[str, str]:
    """The environment for DCMTK tools: this process's, with ``TCP_NODELAY=1``."""
    env = dict(os.environ)
    env["TCP_NODELAY"] = "1"
    return env


def wait_port(host: str, port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``host:port`` accepts a TCP connection.

    Raises
    ------
    RuntimeError
        If ``proc`` exits first, or nothing listens after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"peer exited with {proc.returncode} before listening on {host}:{port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {host}:{port} after {timeout}s")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM a peer process, SIGKILL it after 10 s (nothing to do when it already ended)."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@dataclass
class Peer:
    """A running DICOM peer."""

    host: str
    port: int
    ae: str
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        stop_process(self.proc)

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _spawn(cmd: Sequence[str], workdir: Path, name: str, env: Mapping[str, str] | None = None) -> tuple[
    subprocess.Popen[bytes], Path
]:
    log = workdir / f"{name}.log"
    fh = log.open("wb")
    proc = subprocess.Popen(list(cmd), cwd=workdir, stdout=fh, stderr=subprocess.STDOUT, env=dict(env or dcmtk_env()))
    fh.close()
    return proc, log


def _spawn_listening(cmd: Sequence[str], workdir: Path, name: str, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """:func:`_spawn`, then wait until ``port`` listens; the process is stopped when it never does."""
    proc, log = _spawn(cmd, workdir, name)
    try:
        wait_port(LOOPBACK, port, proc=proc)
    except RuntimeError:
        stop_process(proc)
        raise
    return proc, log


# ------------------------------------------------------------------------ DCMTK
def _start_storescp_once(
    tmp_path: Path,
    *,
    ae: str = "STORESCP",
    port: int | None = None,
    extra_args: Sequence[str] = (),
) -> Peer:
    """DCMTK ``storescp``: accepts any called and calling AE title; files land in ``workdir/store``."""
    workdir = Path(tempfile.mkdtemp(prefix="storescp-", dir=tmp_path))
    store = workdir / "store"
    store.mkdir()
    port = port or free_port()
    cmd = ["storescp", "-aet", ae, "-od", str(store), "+xa", "-dhl", *extra_args, str(port)]
    proc, log = _spawn_listening(cmd, workdir, "storescp", port)
    return Peer(host=LOOPBACK, port=port, ae=ae, workdir=workdir, proc=proc, log=log, extra={"store": store})


def _start_dcmqrscp_once(
    tmp_path: Path,
    *,
    ae: str = "QRSCP",
    port: int | None = None,
    peers: Mapping[str, tuple[str, int]] | None = None,
    any_peer: bool = False,
    extra_args: Sequence[str] = (),
) -> Peer:
    """DCMTK ``dcmqrscp`` with an AE table: it checks the called AE title and, unless
    ``any_peer``, only accepts the calling AE titles listed in ``peers`` (AE -> (host, port)).

    Storage area: ``workdir/db`` (``extra["db"]``). C-MOVE destinations must be in ``peers``.
    """
    workdir = Path(tempfile.mkdtemp(prefix="dcmqrscp-", dir=tmp_path))
    db = workdir / "db"
    db.mkdir()
    port = port or free_port()
    peers = dict(peers or {})
    hosts = "\n".join(f"p{i} = ({a}, {h}, {p})" for i, (a, (h, p)) in enumerate(peers.items()))
    allowed = "ANY" if any_peer or not peers else ", ".join(f"p{i}" for i in range(len(peers)))
    cfg = workdir / "dcmqrscp.cfg"
    cfg.write_text(
        f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\n"
        f"HostTable BEGIN\n{hosts}\nHostTable END\n\nVendorTable BEGIN\nVendorTable END\n\n"
        f"AETable BEGIN\n{ae} {db} RW (200, 1024mb) {allowed}\nAETable END\n"
    )
    # forking mode: Debian's dcmqrscp 3.6.7 crashes after each association with --single-process
    cmd = ["dcmqrscp", "-c", str(cfg), "-dhl", *extra_args]
    proc, log = _spawn_listening(cmd, workdir, "dcmqrscp", port)
    return Peer(host=LOOPBACK, port=port, ae=ae, workdir=workdir, proc=proc, log=log, extra={"db": db, "cfg": cfg})


def storescu(
    peer_host: str,
    peer_port: int,
    files: Sequence[Path | str],
    *,
    called_ae: str,
    calling_ae: str = "STORESCU",
    extra_args: Sequence[str] = (),
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Send files with DCMTK ``storescu`` (returns the completed process; does not raise)."""
    cmd = ["storescu", "-aec", called_ae, "-aet", calling_ae, *extra_args, peer_host, str(peer_port)]
    cmd += [str(f) for f in files]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dcmtk_env())


# ----------------------------------------------------------------------- Orthanc
@dataclass
class OrthancPeer(Peer):
    """A running Orthanc: DICOM on ``port`` (alias ``dicom_port``), REST on ``http_port``."""

    http_port: int = 0
    storage_dir: Path = Path()
    config: dict[str, Any] = field(default_factory=dict)
    credentials: tuple[str, str] | None = None
    https: bool = False

    @property
    def dicom_port(self) -> int:
        return self.port

    @property
    def base_url(self) -> str:
        return f"{'https' if self.https else 'http'}://{self.host}:{self.http_port}"

    def rest(self, method: str, path: str, body: bytes | None = None) -> Any:
        """Call Orthanc's REST API (JSON answer decoded). Raises urllib.error.HTTPError on failure."""
        req = urllib.request.Request(self.base_url + path, data=body, method=method)
        if self.credentials:
            token = b64encode(f"{self.credentials[0]}:{self.credentials[1]}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        ctx = None
        if self.https:
            import ssl

            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen(req, timeout=30, context=ctx) as resp:
            data = resp.read()
        return json.loads(data) if data else None


def orthanc_config(
    *,
    storage: Path,
    dicom_port: int,
    http_port: int,
    ae: str = "ORTHANC",
    hardened: bool = False,
    modalities: Mapping[str, tuple[str, str, int]] | None = None,
    users: Mapping[str, str] | None = None,
    dicom_tls: Mapping[str, str] | None = None,
    http_tls_pem: str | None = None,
) -> dict[str, Any]:
    """An Orthanc configuration.

    Default (``hardened=False``): Orthanc's own defaults for access control (any called AE,
    echo and store from anyone, no HTTP authentication from localhost).
    Hardened: called-AE check, only the ``modalities`` listed (with host check) may do anything,
    HTTP authentication with ``users``; optional DICOM TLS (``dicom_tls`` keys: certificate,
    private_key, trusted) and HTTPS (``http_tls_pem``: one PEM with certificate and key).
    """
    cfg: dict[str, Any] = {
        "Name": "radguard-test",
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "StorageCompression": False,
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "DicomServerEnabled": True,
        "DicomPort": dicom_port,
        "DicomAet": ae,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [],
        "ConcurrentJobs": 2,
        "DicomModalities": {name: list(v) for name, v in (modalities or {}).items()},
        "HttpsVerifyPeers": False,
        "SaveJobs": False,
        "StableAge": 1,
    }
    if hardened:
        cfg.update(
            {
                "DicomCheckCalledAet": True,
                "DicomAlwaysAllowEcho": False,
                "DicomAlwaysAllowStore": False,
                "DicomAlwaysAllowFind": False,
                "DicomAlwaysAllowMove": False,
                "DicomAlwaysAllowGet": False,
                "DicomCheckModalityHost": True,
                "RemoteAccessAllowed": True,
                "AuthenticationEnabled": True,
                "RegisteredUsers": dict(users or {"admin": "s3cure-" + b64encode(os.urandom(9)).decode()}),
            }
        )
    if dicom_tls:
        cfg.update(
            {
                "DicomTlsEnabled": True,
                "DicomTlsCertificate": dicom_tls["certificate"],
                "DicomTlsPrivateKey": dicom_tls["private_key"],
                "DicomTlsTrustedCertificates": dicom_tls.get("trusted", dicom_tls["certificate"]),
                "DicomTlsRemoteCertificateRequired": bool(dicom_tls.get("require_client_cert", "")),
            }
        )
    if http_tls_pem:
        cfg.update({"SslEnabled": True, "SslCertificate": http_tls_pem})
    return cfg


def _start_orthanc_once(tmp_path: Path, config: Callable[[Path, int, int], dict[str, Any]]) -> OrthancPeer:
    """Start Orthanc (Debian package, /usr/sbin/Orthanc) with ``config(storage, dicom_port, http_port)`` on free
    ports; waits until REST answers."""
    workdir = Path(tempfile.mkdtemp(prefix="orthanc-", dir=tmp_path))
    storage = workdir / "storage"
    storage.mkdir()
    dicom_port, http_port = free_port(), free_port()
    while http_port == dicom_port:
        http_port = free_port()
    cfg = config(storage, dicom_port, http_port)
    (workdir / "orthanc.json").write_text(json.dumps(cfg, indent=1))
    proc, log = _spawn(["Orthanc", "--no-jobs", str(workdir / "orthanc.json")], workdir, "orthanc")
    creds = None
    if cfg.get("AuthenticationEnabled") and cfg.get("RegisteredUsers"):
        creds = next(iter(cfg["RegisteredUsers"].items()))
    peer = OrthancPeer(
        host=LOOPBACK,
        port=dicom_port,
        ae=cfg["DicomAet"],
        workdir=workdir,
        proc=proc,
        log=log,
        http_port=http_port,
        storage_dir=storage,
        config=cfg,
        credentials=creds,
        https=bool(cfg.get("SslEnabled")),
    )
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"Orthanc exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            peer.rest("GET", "/system")
            break
        except (urllib.error.URLError, OSError, ConnectionError):
            if time.monotonic() > deadline:
                peer.stop()
                raise RuntimeError(f"Orthanc REST not up: {log.read_text()[-2000:]}") from None
            time.sleep(0.1)
    try:
        wait_port(LOOPBACK, dicom_port, proc=proc)
    except RuntimeError:
        peer.stop()
        raise
    return peer


def _retry(start: Callable[[], P], port_given: bool, attempts: int = 3) -> P:
    """Start a peer, retrying with new free ports when it died before listening (port races on busy hosts)."""
    for attempt in range(attempts):
        try:
            return start()
        except RuntimeError:
            if port_given or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def start_storescp(tmp_path: Path, *, ae: str = "STORESCP", port: int | None = None,
                   extra_args: Sequence[str] = ()) -> Peer:
    """DCMTK ``storescp``: accepts any called and calling AE title; files land in ``workdir/store``."""
    return _retry(lambda: _start_storescp_once(tmp_path, ae=ae, port=port, extra_args=extra_args), port is not None)


def start_dcmqrscp(tmp_path: Path, *, ae: str = "QRSCP", port: int | None = None,
                   peers: Mapping[str, tuple[str, int]] | None = None, any_peer: bool = False,
                   extra_args: Sequence[str] = ()) -> Peer:
    """DCMTK ``dcmqrscp`` with an AE table (see :func:`_start_dcmqrscp_once`)."""
    return _retry(lambda: _start_dcmqrscp_once(tmp_path, ae=ae, port=port, peers=peers, any_peer=any_peer,
                                               extra_args=extra_args), port is not None)


def start_orthanc(tmp_path: Path, *, ae: str = "ORTHANC", hardened: bool = False,
                  modalities: Mapping[str, tuple[str, str, int]] | None = None,
                  users: Mapping[str, str] | None = None, dicom_tls: Mapping[str, str] | None = None,
                  http_tls_pem: str | None = None, overrides: Mapping[str, Any] | None = None) -> OrthancPeer:
    """Start Orthanc with :func:`orthanc_config` on free ports; waits until REST answers (see
    :func:`_start_orthanc_once`)."""

    def config(storage: Path, dicom_port: int, http_port: int) -> dict[str, Any]:
        cfg = orthanc_config(storage=storage, dicom_port=dicom_port, http_port=http_port, ae=ae, hardened=hardened,
                             modalities=modalities, users=users, dicom_tls=dicom_tls, http_tls_pem=http_tls_pem)
        return {**cfg, **(overrides or {})}

    fixed = any(k in (overrides or {}) for k in ("HttpPort", "DicomPort"))
    return _retry(lambda: _start_orthanc_once(tmp_path, config), fixed)
