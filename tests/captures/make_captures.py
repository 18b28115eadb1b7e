"""Generate the pcap test captures: tcpdump on loopback while real DCMTK clients talk to real
DCMTK servers (storescp, dcmqrscp), plus a few hand-made hostile connections.

    python -m tests.captures.make_captures OUTDIR [SCENARIO...]

Each scenario writes OUTDIR/<scenario>.pcap and OUTDIR/<scenario>.json (the ports used, so
tests can tell tshark where DICOM is). Needs root (tcpdump) and DCMTK. Nothing is
committed in bulk: only the golden expectations in tests/captures/golden/.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pydicom import dcmread
from pydicom.data import get_testdata_file

from radguard.dicom import uids
from radguard.dicom.dimse import c_echo_rq, fragment
from radguard.dicom.pdu import AssociateRequest, PresentationContext
from tests.support.peers import LOOPBACK, Peer, dcmtk_env, free_port, start_storescp, wait_port

FILES = [get_testdata_file(n) for n in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm")]
SCENARIOS: dict[str, Callable[[Path, list[int]], None]] = {}


def scenario(fn: Callable[[Path, list[int]], None]) -> Callable[[Path, list[int]], None]:
    SCENARIOS[fn.__name__] = fn
    return fn


def run(args: Sequence[str], ok: bool = True) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(list(args), env=dcmtk_env(), capture_output=True, timeout=60)
    if ok and proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-500:]}")
    return proc


@contextlib.contextmanager
def tcpdump(path: Path, ports: Sequence[int]) -> Iterator[None]:
    """Capture loopback TCP touching ``ports`` into ``path`` (pcap, Ethernet link type).

    ``--immediate-mode`` matters: without it, packets wait in the kernel ring buffer for a block
    timeout and a short capture stopped by SIGINT can come out empty.
    """
    expr = " or ".join(f"tcp port {p}" for p in ports)
    cmd = ["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-B", "262144", "-s", "0", "-w", str(path), expr]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # "tcpdump: listening on lo, ..."
    if b"listening" not in line:
        proc.kill()
        raise RuntimeError(f"tcpdump did not start: {line!r}")
    time.sleep(0.3)
    try:
        yield
    finally:
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def _qr_peer(workdir: Path, store: Peer | None = None) -> Peer:
    """dcmqrscp (AE QRSCP) knowing KNOWNSCU (and DEST = ``store`` for C-MOVE).

    Started here in its default forking mode: DCMTK 3.6.7's ``--single-process`` mode (used by
    tests/support/peers.py) segfaults after the first association that stores an object.
    """
    qdir = Path(tempfile.mkdtemp(prefix="qr-", dir=workdir))
    (qdir / "db").mkdir()
    port = free_port()
    hosts = f"p0 = (KNOWNSCU, {LOOPBACK}, 1)\n"
    if store is not None:
        hosts += f"p1 = (DEST, {LOOPBACK}, {store.port})\n"
    peers = "p0, p1" if store is not None else "p0"
    cfg = qdir / "dcmqrscp.cfg"
    cfg.write_text(f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\n"
                   f"HostTable BEGIN\n{hosts}HostTable END\n\nVendorTable BEGIN\nVendorTable END\n\n"
                   f"AETable BEGIN\nQRSCP {qdir / 'db'} RW (200, 1024mb) {peers}\nAETable END\n")
    log = (qdir / "dcmqrscp.log").open("wb")
    proc = subprocess.Popen(["dcmqrscp", "-c", str(cfg), "-dhl"], cwd=qdir, stdout=log, stderr=subprocess.STDOUT,
                            env=dcmtk_env())
    log.close()
    wait_port(LOOPBACK, port, proc=proc)
    return Peer(host=LOOPBACK, port=port, ae="QRSCP", workdir=qdir, proc=proc)


@scenario
def store_echo(workdir: Path, ports: list[int]) -> None:
    """C-ECHO, then three C-STOREs in one association, to storescp."""
    scp = start_storescp(workdir)
    ports.append(scp.port)
    try:
        with tcpdump(workdir / "store_echo.pcap", ports):
            run(["echoscu", "-aet", "CT01", "-aec", scp.ae, LOOPBACK, str(scp.port)])
            run(["storescu", "-aet", "CT01", "-aec", scp.ae, LOOPBACK, str(scp.port), *FILES])
    finally:
        scp.stop()


@scenario
def query_retrieve(workdir: Path, ports: list[int]) -> None:
    """Stores into dcmqrscp, a broad patient-level C-FIND, a narrow study C-FIND, C-MOVE and C-GET."""
    scp = start_storescp(workdir, ae="DEST")
    qr = _qr_peer(workdir, scp)
    ports += [qr.port, scp.port]
    ct, mr = dcmread(FILES[0]), dcmread(FILES[1])
    base = ["-aet", "KNOWNSCU", "-aec", qr.ae, LOOPBACK, str(qr.port)]
    try:
        run(["storescu", *base, FILES[0], FILES[1]])  # loading happens before the capture
        with tcpdump(workdir / "query_retrieve.pcap", ports):
            run(["findscu", "-P", *base, "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientName=*",
                 "-k", "PatientID"])
            run(["findscu", "-S", *base, "-k", "QueryRetrieveLevel=STUDY", "-k", f"PatientID={ct.PatientID}",
                 "-k", "StudyInstanceUID"])
            run(["movescu", "-S", *base, "-aem", "DEST", "-k", "QueryRetrieveLevel=STUDY",
                 "-k", f"StudyInstanceUID={ct.StudyInstanceUID}"])
            getdir = workdir / "get"
            getdir.mkdir()
            run(["getscu", "-S", *base, "-od", str(getdir), "-k", "QueryRetrieveLevel=STUDY",
                 "-k", f"StudyInstanceUID={mr.StudyInstanceUID}"])
    finally:
        qr.stop()
        scp.stop()


@scenario
def rejects(workdir: Path, ports: list[int]) -> None:
    """Guessing AE titles against dcmqrscp: six unknown calling AEs, two wrong called AEs."""
    qr = _qr_peer(workdir)
    ports.append(qr.port)
    try:
        with tcpdump(workdir / "rejects.pcap", ports):
            for i in range(6):
                run(["echoscu", "-aet", f"GUESS{i}", "-aec", qr.ae, LOOPBACK, str(qr.port)], ok=False)
            for called in ("PACS", "ORTHANC"):
                run(["echoscu", "-aet", "KNOWNSCU", "-aec", called, LOOPBACK, str(qr.port)], ok=False)
            run(["echoscu", "-aet", "KNOWNSCU", "-aec", qr.ae, LOOPBACK, str(qr.port)])
    finally:
        qr.stop()


@scenario
def sweep(workdir: Path, ports: list[int]) -> None:
    """One source tries C-ECHO on eight closed ports and two DICOM servers."""
    scp = start_storescp(workdir)
    qr = _qr_peer(workdir)
    closed = [free_port() for _ in range(8)]
    ports += [scp.port, qr.port, *closed]
    try:
        with tcpdump(workdir / "sweep.pcap", ports):
            for port in [*closed[:4], scp.port, *closed[4:], qr.port]:
                run(["echoscu", "-to", "2", "-aet", "SCANNER", "-aec", "ANY-SCP", LOOPBACK, str(port)], ok=False)
    finally:
        scp.stop()
        qr.stop()


@scenario
def flood(workdir: Path, ports: list[int]) -> None:
    """120 back-to-back C-ECHO associations from one source."""
    scp = start_storescp(workdir)
    ports.append(scp.port)
    try:
        with tcpdump(workdir / "flood.pcap", ports):
            for _ in range(120):
                run(["echoscu", "-aet", "FLOOD", "-aec", scp.ae, LOOPBACK, str(scp.port)])
    finally:
        scp.stop()


def _send(port: int, data: bytes, *, read: bool = True) -> None:
    with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
        sock.sendall(data)
        if read:
            with contextlib.suppress(OSError):
                while sock.recv(65536):
                    pass


@scenario
def anomalies(workdir: Path, ports: list[int]) -> None:
    """A normal echo, then hostile input to storescp: unknown PDU type, a P-DATA on a context that was
    never accepted, and HTTP to the DICOM port."""
    scp = start_storescp(workdir)
    ports.append(scp.port)
    rq = AssociateRequest("STORESCP", "FUZZER", [PresentationContext(1, uids.VERIFICATION,
                                                                     [uids.IMPLICIT_VR_LITTLE_ENDIAN])])
    try:
        with tcpdump(workdir / "anomalies.pcap", ports):
            run(["echoscu", "-aet", "CT01", "-aec", scp.ae, LOOPBACK, str(scp.port)])
            _send(scp.port, b"\x09\x00\x00\x00\x00\x04abcd")
            with socket.create_connection((LOOPBACK, scp.port), timeout=5) as sock:
                sock.sendall(rq.encode())
                sock.recv(65536)  # A-ASSOCIATE-AC
                sock.sendall(fragment(7, c_echo_rq(1).encode(), None, 16384)[0])
                with contextlib.suppress(OSError):
                    while sock.recv(65536):
                        pass
            _send(scp.port, b"GET / HTTP/1.1\r\nHost: pacs\r\n\r\n")
    finally:
        scp.stop()


def _polyglot(path: Path) -> Path:
    """CT_small with a Windows executable hidden in a private OB element (what malicious-object must catch)."""
    ds = dcmread(FILES[0])
    pe = bytearray(512)
    pe[0:2] = b"MZ"
    pe[0x3C:0x40] = (0x80).to_bytes(4, "little")
    pe[0x80:0x84] = b"PE\0\0"
    block = ds.private_block(0x0009, "RADGUARD TEST", create=True)
    block.add_new(0x00, "OB", bytes(pe))
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.1373.1"
    ds.save_as(path, enforce_file_format=True)
    return path


@scenario
def malicious(workdir: Path, ports: list[int]) -> None:
    """C-STORE of an object carrying an executable in a private element."""
    scp = start_storescp(workdir)
    ports.append(scp.port)
    bad = _polyglot(workdir / "polyglot.dcm")
    try:
        with tcpdump(workdir / "malicious.pcap", ports):
            run(["storescu", "-aet", "MOD01", "-aec", scp.ae, LOOPBACK, str(scp.port), str(bad), FILES[1]])
    finally:
        scp.stop()


@scenario
def tls(workdir: Path, ports: list[int]) -> None:
    """C-ECHO over DICOM TLS (storescp +tls, echoscu +tls)."""
    key, cert = workdir / "key.pem", workdir / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=pacs.radguard.test/O=Radguard Test"],
                   check=True, capture_output=True)
    scp = start_storescp(workdir, extra_args=["+tls", str(key), str(cert), "-ic"])
    ports.append(scp.port)
    try:
        with tcpdump(workdir / "tls.pcap", ports):
            run(["echoscu", "+tls", str(key), str(cert), "-ic", "-aet", "CT01", "-aec", scp.ae,
                 LOOPBACK, str(scp.port)])
    finally:
        scp.stop()


#: loopback captures can hold segments out of order; Wireshark only reassembles those when told to
TSHARK_OPTIONS = ("-o", "tcp.reassemble_out_of_order:TRUE")
_REQUEST = re.compile(r"\b([CN]-[A-Z]+(?:-[A-Z]+)?)-RQ ID=\d+")


def tshark_requests(pcap: Path, ports: Sequence[int]) -> Counter[str]:
    """DIMSE requests per service as Wireshark's DICOM dissector sees them (its Info column)."""
    args = [*TSHARK_OPTIONS, *(a for p in ports for a in ("-d", f"tcp.port=={p},dicom"))]
    out = subprocess.run(["tshark", "-r", str(pcap), *args, "-Y", "dicom", "-T", "fields", "-e", "_ws.col.Info"],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    return Counter(m.group(1) for line in out.splitlines() for m in _REQUEST.finditer(line))


def _complete(pcap: Path, ports: Sequence[int]) -> bool:
    """No capture loss: every DICOM conversation reassembled without gaps."""
    from radguard.monitor.analyzer import analyze

    records = analyze([pcap], dicom_ports=ports).records
    return not any(r.get("gaps") for r in records)


def generate(outdir: Path, names: Sequence[str] = (), attempts: int = 3) -> dict[str, dict[str, object]]:
    """Run the scenarios (all by default); returns {name: {"pcap": path, "ports": [...]}}.

    A capture that lost packets (tcpdump on a loaded machine can), or whose peer could not start (a free port
    taken by another process between choosing and binding it), is made again, up to ``attempts`` times.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, dict[str, object]] = {}
    for name in names or list(SCENARIOS):
        for attempt in range(attempts):
            ports: list[int] = []
            pcap = outdir / f"{name}.pcap"
            with tempfile.TemporaryDirectory(prefix=f"cap-{name}-") as tmp:
                try:
                    SCENARIOS[name](Path(tmp), ports)
                except RuntimeError:
                    if attempt == attempts - 1:
                        raise
                    continue
                (Path(tmp) / f"{name}.pcap").replace(pcap)
            if _complete(pcap, ports):
                break
        meta = {"pcap": str(pcap), "ports": ports}
        (outdir / f"{name}.json").write_text(json.dumps(meta))
        result[name] = meta
    return result


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    for name, meta in generate(Path(sys.argv[1]), sys.argv[2:]).items():
        print(name, meta)
