"""Gateway overhead: storescu -> storescp directly vs through ``radguard gateway``.

Claims (issue 5): C-STORE throughput through the gateway (plain, inspection off) is >= 0.8x the
direct throughput; the gateway adds <= 2 ms to a C-ECHO round trip at the median. Also measured:
plain with inspection on (the default: archive checks on every data set), and DICOM TLS with
inspection on (TLS costs are the client's and the gateway's, the direct run stays cleartext).

Same objects, same storescp, one storescu association per run, runs interleaved across setups,
median of ``--runs`` runs;
C-ECHO latency from one held association (sans-io upper layer over a blocking socket), p50/p99.
The gateway runs as its own process (``radguard gateway --config``). DCMTK runs with TCP_NODELAY=1.
Also printed: the gateway process's CPU time per object (user + system, from /proc), which depends
far less on the machine's load than wall-time ratios do, and the load average before and after.
``--baseline-src DIR`` adds, interleaved, the same setups run from another checkout's ``src``
(e.g. ``git archive <commit> src | tar -x -C /tmp/base``) to compare two versions on equal terms.

    .venv/bin/python benchmarks/gateway_overhead.py [--quick] [--ct512] [--baseline-src DIR]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.test_gateway_helpers import make_files  # noqa: E402
from tests.support.peers import dcmtk_env, free_port, start_storescp, wait_port  # noqa: E402
from tests.unit.test_audit_syslog import make_certs  # noqa: E402

from radguard.dicom.dimse import c_echo_rq, fragment  # noqa: E402
from radguard.dicom.events import AssociateAccepted, CommandReceived  # noqa: E402
from radguard.dicom.pdu import AssociateRequest, PresentationContext, ReleaseRequest  # noqa: E402
from radguard.dicom.uids import IMPLICIT_VR_LITTLE_ENDIAN, VERIFICATION  # noqa: E402
from radguard.dicom.ul import Role, UpperLayer  # noqa: E402

LOOPBACK = "127.0.0.1"


def make_ct512(folder: Path, n: int) -> list[Path]:
    """``n`` CT-sized objects (512 x 512 x 16 bit, ~0.5 MB), unique UIDs, from pydicom's CT_small."""
    import numpy as np
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    ds = dcmread(get_testdata_file("CT_small.dcm"))  # type: ignore[arg-type]
    ds.Rows = ds.Columns = 512
    rng = np.random.default_rng(5)
    ds.PixelData = rng.integers(0, 2000, size=(512, 512), dtype=np.uint16).tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.StudyInstanceUID = generate_uid()
    out = []
    for i in range(n):
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = folder / f"ct{i:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        out.append(path)
    return out


def storescu(port: int, files: list[Path], called: str, tls: list[str] | None = None) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(["storescu", *(tls or []), "-aet", "CT01", "-aec", called, LOOPBACK, str(port),
                        *map(str, files)], env=dcmtk_env(), capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"storescu failed: {r.stderr[-500:]}")
    return dt


def echo_latencies(port: int, called: str, n: int) -> list[float]:
    sock = socket.create_connection((LOOPBACK, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ul = UpperLayer(Role.REQUESTOR)
    sock.sendall(ul.send(AssociateRequest(called_ae=called, calling_ae="CT01", contexts=[
        PresentationContext(1, VERIFICATION, [IMPLICIT_VR_LITTLE_ENDIAN])])))
    events: list[object] = []
    while not events:
        events = list(ul.receive(sock.recv(65536)))
    assert isinstance(events[0], AssociateAccepted), events
    out = []
    for i in range(1, n + 1):
        t0 = time.perf_counter()
        for pdu in fragment(1, c_echo_rq(i).encode(), None, ul.peer_max_pdu or 0):
            sock.sendall(pdu)
        done = False
        while not done:
            done = any(isinstance(e, CommandReceived) for e in ul.receive(sock.recv(65536)))
        out.append(time.perf_counter() - t0)
    sock.sendall(ul.send(ReleaseRequest()))
    sock.recv(64)
    sock.close()
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def start_gateway(work: Path, up_port: int, *, inspection: bool, tls: tuple[Path, Path] | None,
                  audit: bool = True, src: Path | None = None, client_ca: Path | None = None) -> tuple[
        subprocess.Popen[bytes], int, int | None]:
    port = free_port()
    tls_port = free_port() if tls else None
    tls_lines = (f'listen_tls = "127.0.0.1:{tls_port}"\ntls_cert = "{tls[0]}"\ntls_key = "{tls[1]}"\n'
                 + (f'tls_client_ca = "{client_ca}"\n' if client_ca else "") if tls else "")
    cfg = work / f"gw-{port}.toml"
    cfg.write_text(
        f'[gateway]\nlisten = "127.0.0.1:{port}"\n{tls_lines}upstream = "127.0.0.1:{up_port}"\n'
        f'upstream_ae = "UP"\nae_title = "RADGUARD"\ncontrol = "{work}/gw-{port}.sock"\n'
        f'spool = "{work}/spool"\n\n'
        '[[peer]]\nae = "CT01"\nhosts = ["127.0.0.1"]\nallow = ["C-ECHO", "C-STORE"]\n\n'
        '[limits]\nassociations_per_minute = 100000\n\n'
        f'[inspection]\nenabled = {"true" if inspection else "false"}\n\n'
        + (f'[audit]\nfile = "{work}/audit-{port}.jsonl"\n' if audit else ""))
    env = dict(os.environ)
    if src is not None:  # another checkout's code, ahead of the installed one
        env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.Popen([sys.executable, "-m", "radguard.cli.main", "gateway", "--config", str(cfg)],
                            stderr=subprocess.DEVNULL, env=env)
    wait_port(LOOPBACK, port, proc=proc)
    return proc, port, tls_port


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small run (100 objects, 300 echoes, 3 runs)")
    ap.add_argument("--objects", type=int, default=None)
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--no-audit", action="store_true", help="run the gateway without an audit trail")
    ap.add_argument("--ignore-store", action="store_true", help="storescp --ignore: receive, do not write")
    ap.add_argument("--ct512", action="store_true", help="CT-sized objects (~0.5 MB) instead of 39 kB ones")
    ap.add_argument("--baseline-src", type=Path, default=None,
                    help="also run every gateway setup from this src directory (another version), interleaved")
    ap.add_argument("--only-plain", action="store_true", help="only the plain gateway setup (no inspection, no TLS)")
    ap.add_argument("--only-tls", action="store_true", help="only the TLS gateway setup")
    ap.add_argument("--mutual-tls", action="store_true", help="TLS clients present a certificate (tls_client_ca)")
    args = ap.parse_args()
    load_before = os.getloadavg()
    n_obj = args.objects or (100 if args.quick else 500)
    runs = args.runs or (3 if args.quick else 5)
    n_echo = 300 if args.quick else 2000
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        work = Path(tmp)
        files = make_ct512(work / "in", n_obj) if args.ct512 else make_files(work / "in", n_obj)
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        ca, cert, key = make_certs(work / "tls", cn="localhost")
        # storescp writes the objects as it normally does; --ignore-store: it discards them (stricter baseline)
        up = start_storescp(work, ae="UP", extra_args=["--ignore"] if args.ignore_store else [])
        setups = [("gateway plain", False, False), ("gateway plain + inspection", True, False),
                  ("gateway TLS + inspection", True, True)]
        if args.only_plain:
            setups = setups[:1]
        if args.only_tls:
            setups = setups[2:]
        client_ca, client_cert, client_key = make_certs(work / "tls-client", cn="CT01")
        versions: list[tuple[str, Path | None]] = [("", None)]
        if args.baseline_src is not None:
            versions.append((" (baseline)", args.baseline_src.resolve()))
        gateways = []
        times: dict[str, list[float]] = {"direct": []}
        cpu: dict[str, float] = {}
        try:
            for name, inspection, use_tls in setups:
                for suffix, src in versions:
                    proc, port, tls_port = start_gateway(work, up.port, inspection=inspection,
                                                         tls=(cert, key) if use_tls else None,
                                                         audit=not args.no_audit, src=src,
                                                         client_ca=client_ca if args.mutual_tls else None)
                    gateways.append((name + suffix, proc, port, tls_port))
                    times[name + suffix] = []
                    cpu[name + suffix] = 0.0
            tls_args = (["+tls", str(client_key), str(client_cert)] if args.mutual_tls
                        else ["+tls", str(key), str(cert)]) + ["+cf", str(ca)]
            for _ in range(runs):  # interleaved, so that load from other processes hits every setup alike
                times["direct"].append(storescu(up.port, files, "UP"))
                for name, proc, port, tls_port in gateways:
                    before = cpu_seconds(proc.pid)
                    if tls_port is not None:
                        times[name].append(storescu(tls_port, files, "RADGUARD", tls_args))
                    else:
                        times[name].append(storescu(port, files, "RADGUARD"))
                    cpu[name] += cpu_seconds(proc.pid) - before
            echo_direct = echo_latencies(up.port, "UP", n_echo)
            echo_gw = echo_latencies(gateways[0][2], "RADGUARD", n_echo)  # the plain listener (no TLS client)
        finally:
            for _name, proc, _port, _tls in gateways:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
            up.stop()
        results = {name: statistics.median(t) for name, t in times.items()}
    load_after = os.getloadavg()
    print(f"objects: {n_obj} ({size_mb:.1f} MB), runs: {runs}, load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after ({os.cpu_count()} CPUs); median wall times:")
    base = results["direct"]
    for name, t in results.items():
        ratio = base / t
        goal = "  (goal >= 0.8)" if name == "gateway plain" else ""
        per_obj = f"  gateway CPU {cpu[name] / (n_obj * runs) * 1e3:6.3f} ms/obj" if name in cpu else ""
        print(f"  {name:41s} {t:7.3f} s  {n_obj / t:8.1f} obj/s  throughput ratio {ratio:5.2f}{per_obj}{goal}")
    p50d, p99d = pct(echo_direct, 50) * 1e3, pct(echo_direct, 99) * 1e3
    p50g, p99g = pct(echo_gw, 50) * 1e3, pct(echo_gw, 99) * 1e3
    print(f"C-ECHO round trip ({n_echo} on one association): direct p50 {p50d:.3f} ms p99 {p99d:.3f} ms; "
          f"gateway p50 {p50g:.3f} ms p99 {p99g:.3f} ms")
    print(f"C-ECHO added latency: p50 {p50g - p50d:.3f} ms (goal <= 2 ms), p99 {p99g - p99d:.3f} ms")
    ok = ("gateway plain" not in results or base / results["gateway plain"] >= 0.8) and (p50g - p50d) <= 2.0
    print("RESULT:", "goals met" if ok else "goals NOT met")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TCP_NODELAY", "1")
    sys.exit(main())
