"""``radguard range up|status|down``: the demo's department, left running on loopback for play and measurement.

:func:`up` starts, in a run directory, Orthanc as the PACS (seeded with pydicom's bundled files),
DCMTK storescp as the reading workstation WS01, DCMTK dcmqrscp as the archive, a rogue storescp
(the attacker's AE ``EXFIL``, which a stale PACS entry still points at), the radguard gateway in
front of the PACS, ``radguard monitor -i lo`` capturing the range's ports and a decoy PACS
(``radguard decoy``); honeytoken studies are planted in the PACS (``radguard decoy plant``). A file archive of
the studies is sealed (keygen + seal), canaries are planted in it, and a backup copy and a
pristine copy are made. Every process leads its own session so :func:`down` stops it and its
children; nothing listens outside 127.0.0.0/8.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from radguard.errors import UsageError
from radguard.range.department import demo_images, radguard, say
from radguard.range.peers import (
    LOOPBACK,
    Peer,
    dcmtk_env,
    free_port,
    start_dcmqrscp,
    start_orthanc,
    start_storescp,
    storescu,
    wait_port,
)
from radguard.range.state import Proc, RangeState

#: the monitor's detections in the range: every alerting detection of the default profile except
#: cleartext-phi, which flags every plain DICOM association (a posture finding, not an alert: the range
#: has no TLS, so it would fire on every benign store), and web-unauthenticated, its web twin (the range's
#: PACS ships its web API without authentication, so every benign web request would raise it)
MONITOR_RULES = ("ae-brute-force", "dicom-sweep", "query-harvesting", "malicious-object", "association-flood",
                 "protocol-anomaly", "non-dicom-on-dicom-port", "bulk-retrieve", "unknown-peer",
                 "honeytoken-touched", "web-harvest", "web-upload-malicious", "web-default-credentials-used")
#: distinct endpoints one source must try before dicom-sweep fires (every peer of the range runs on 127.0.0.1,
#: so the department's own traffic reaches 6 of them)
SWEEP_ENDPOINTS = 12
#: further well-known DICOM/PACS ports a sweep probes (nothing of the range listens there)
SWEEP_PORTS = (105, 2761, 2762, 3000, 4006, 4242, 5678, 8000, 8080, 8042, 8043, 8443, 9090, 11113, 11114, 11115)
#: objects one peer may retrieve within the monitor's window before bulk-retrieve fires (benign: ~1 a minute)
BULK_OBJECTS = 40
#: objects one client may download over the PACS's web API within WEB_WINDOW seconds before web-harvest fires
#: (the range's PACS holds a few objects, 3 over DICOMweb; the benign viewer fetches one study every 30 s)
WEB_OBJECTS = 3
WEB_WINDOW = 45.0
#: the gateway's rate limit per peer (benign traffic stays far below it)
ASSOCIATIONS_PER_MINUTE = 60
#: copies of the bundled images in the sealed archive (one study each)
ARCHIVE_STUDIES = 4
#: honeytoken studies planted in the PACS (`radguard decoy plant`)
HONEYTOKENS = 2
#: the product the range's decoy answers as
DECOY_PRODUCT = "orthanc"


#: the monitor's baseline of normal traffic, from the gateway's policy (who calls from where, who retrieves)
BASELINE: dict[str, Any] = {
    "peers": {"CT01": ["127.0.0.1"], "US01": ["127.0.0.1"], "WS01": ["127.0.0.1"], "PACS": ["127.0.0.1"]},
    "move_destinations": ["WS01"], "retrieve_objects": {"WS01": 10},
}


#: Orthanc's DICOMweb plugin (Debian package orthanc-dicomweb): QIDO-RS, WADO-RS and STOW-RS under /dicom-web/
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def dicomweb_overrides() -> dict[str, Any]:
    """Orthanc settings that load the DICOMweb plugin as a PACS ships it (no authentication of its own)."""
    if not DICOMWEB_PLUGIN.exists():
        return {}
    return {"Plugins": [str(DICOMWEB_PLUGIN)], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}}


def default_dir() -> Path:
    """``<user data dir>/radguard/range`` (``~/.local/share/radguard/range``)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("radguard", appauthor=False)) / "range"


def env_for(state_dir: Path) -> dict[str, str]:
    """The environment of the range's radguard processes (its own store in the run directory)."""
    return dict(os.environ, RADGUARD_DB=f"sqlite:///{state_dir / 'radguard.db'}", TCP_NODELAY="1",
                RADGUARD_HONEYTOKENS=str(state_dir / "honeytokens.txt"))


def gateway_toml(*, host: str, port: int, pacs_port: int, pacs_ae: str = "PACS", gateway_ae: str = "RADGUARD",
                 workstation_ae: str = "WS01", workstation_port: int, tls: str = "") -> str:
    """The gateway's policy: CT01/US01 may store, the workstation may query and retrieve to itself only.

    The range writes it for its gateway (with ``tls``, the ``[gateway]`` lines of its DICOM TLS listener), and
    the demo's gateway drill (:mod:`radguard.range.drills`) too.
    """
    return f"""[gateway]
listen = "{host}:{port}"
upstream = "{host}:{pacs_port}"
upstream_ae = "{pacs_ae}"
ae_title = "{gateway_ae}"
control = "control/gateway.sock"
{tls}
[[peer]]
ae = "CT01"
hosts = ["127.0.0.1"]
allow = ["C-ECHO", "C-STORE"]

[[peer]]
ae = "US01"
hosts = ["127.0.0.1"]
allow = ["C-ECHO", "C-STORE"]

[[peer]]
ae = "{workstation_ae}"
hosts = ["127.0.0.1"]
port = {workstation_port}
allow = ["C-ECHO", "C-FIND", "C-MOVE", "C-GET"]
move_destinations = ["{workstation_ae}"]

[limits]
associations_per_minute = {ASSOCIATIONS_PER_MINUTE}

[audit]
file = "audit.jsonl"
"""


def _tls_lines(st: RangeState) -> str:
    """The gateway's DICOM TLS listener (the TLS layer): the modalities' client certificates are required."""
    if not st.gateway_tls_port:
        return ""
    from radguard.range.pki import load_pki

    pki = load_pki(Path(st.tls_dir))
    return (f'listen_tls = "{st.host}:{st.gateway_tls_port}"\ntls_cert = "{pki.server_cert}"\n'
            f'tls_key = "{pki.server_key}"\ntls_client_ca = "{pki.ca}"\n')


def _spawn_radguard(name: str, args: list[str], st: RangeState, log: Path) -> Proc:
    fh = log.open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "radguard.cli.main", *args], stdout=fh, stderr=subprocess.STDOUT,
                            env=env_for(st.dir), start_new_session=True, cwd=st.run_dir)
    fh.close()
    return Proc(name=name, pid=proc.pid, marker=st.run_dir, group=True)


def start_gateway(st: RangeState) -> Proc:
    """Start the gateway of ``st`` (its config is in the run directory); waits until it listens."""
    args = ["gateway", "--config", st.gateway_config]
    proc = _spawn_radguard("gateway", args, st, st.dir / "gateway" / "gateway.log")
    wait_port(st.host, st.gateway_port, timeout=20)
    return proc


def monitor_status(st: RangeState) -> Path:
    """The monitor's status file: rewritten after each detection pass (``radguard monitor --status-file``)."""
    return st.dir / "monitor" / "status.json"


def start_monitor(st: RangeState) -> Proc:
    """Start ``radguard monitor -i lo`` on the range's DICOM ports; alerts go to ``monitor/alerts.jsonl``."""
    args = ["monitor", "-i", "lo", "--filter", st.monitor_filter, "--interval", "0.5", "--no-store",
            "--status-file", str(monitor_status(st)), "--audit-file", st.monitor_alerts,
            "--profile", ",".join(MONITOR_RULES), *st.monitor_args]
    monitor_status(st).unlink(missing_ok=True)
    started = time.time()
    proc = _spawn_radguard("monitor", args, st, st.dir / "monitor" / "monitor.log")
    if not monitor_passes(st, started, 1, timeout=30.0):  # capturing: a pass over a frame sent after the start
        proc.stop()
        raise RuntimeError(f"the monitor did not start capturing on lo (see {st.dir / 'monitor' / 'monitor.log'})")
    return proc


def monitor_passes(st: RangeState, after: float, passes: int, *, timeout: float, nudge: float = 0.5) -> bool:
    """Nudge the monitor (a request to the PACS, on a watched port) until its status file shows ``passes``
    detection passes over frames captured at or after ``after`` (epoch seconds); False after ``timeout``."""
    import urllib.request

    status = monitor_status(st)
    deadline = time.monotonic() + timeout
    seen: set[float] = set()
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{st.host}:{st.pacs_http_port}/system", timeout=5) as resp:
                resp.read()
        except OSError:
            pass
        time.sleep(nudge)
        try:
            doc = json.loads(status.read_text())
        except (OSError, ValueError):
            continue
        if float(doc.get("last_frame_time", 0)) >= after:
            seen.add(float(doc.get("pass_time", 0)))
            if len(seen) >= passes:
                return True
    return False


def start_decoy(st: RangeState) -> Proc:
    """Start ``radguard decoy`` on the range's decoy port; alerts go to ``decoy/alerts.jsonl``."""
    args = ["decoy", "--listen", f"{st.host}:{st.decoy_port}", "--alerts", st.decoy_alerts, "--product",
            DECOY_PRODUCT]
    proc = _spawn_radguard("decoy", args, st, st.dir / "decoy" / "decoy.log")
    wait_port(st.host, st.decoy_port, timeout=20)
    return proc


def plant_honeytokens(st: RangeState) -> list[str]:
    """``radguard decoy plant`` :data:`HONEYTOKENS` studies into the PACS (as CT01); their Study UIDs."""
    proc = subprocess.run([sys.executable, "-m", "radguard.cli.main", "decoy", "plant", "--pacs",
                           f"{st.host}:{st.pacs_port}", "--called-ae", st.pacs_ae, "--calling-ae", "CT01", "--count",
                           str(HONEYTOKENS), "--json"], capture_output=True, text=True, env=env_for(st.dir),
                          cwd=st.run_dir, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"planting honeytokens failed: {proc.stderr[-300:]}")
    return [str(s["study_uid"]) for s in json.loads(proc.stdout)["studies"]]


#: how each restartable process of the range starts
STARTERS = {"gateway": start_gateway, "monitor": start_monitor, "decoy": start_decoy}


def restart(st: RangeState, name: str, *, running: bool = True) -> None:
    """Stop the range's ``name`` process (gateway, monitor or decoy) and start it again when ``running``."""
    old = st.proc(name)
    if old is not None:
        old.stop()
        st.procs.remove(old)
    if running:
        st.procs.append(STARTERS[name](st))
    st.save()


def _peer_proc(name: str, peer: Peer, st: RangeState) -> Proc:
    assert peer.proc is not None
    return Proc(name=name, pid=peer.proc.pid, marker=st.run_dir)


def _make_archive(st: RangeState, images: list[Path]) -> list[str]:
    """Write :data:`ARCHIVE_STUDIES` studies (new UIDs per copy) into the archive folder."""
    import pydicom
    from pydicom.uid import generate_uid

    archive = Path(st.archive_dir)
    studies: list[str] = []
    for i in range(ARCHIVE_STUDIES):
        study = generate_uid()
        studies.append(str(study))
        sub = archive / f"study{i:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        for k, src in enumerate(images):
            ds = pydicom.dcmread(src)
            ds.StudyInstanceUID = study
            ds.SeriesInstanceUID = generate_uid()
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.save_as(sub / f"img{k:04d}.dcm", enforce_file_format=True)
    return studies


def _check(rc: int, what: str) -> None:
    if rc not in (0, 1):
        raise RuntimeError(f"{what} failed (exit {rc})")


def up(run_dir: Path) -> RangeState:
    """Start the range in ``run_dir`` (which must not hold a running range); returns its state."""
    run_dir = run_dir.resolve()
    if (run_dir / "range.json").exists():
        old = RangeState.load(run_dir)
        if any(p.alive() for p in old.procs):
            raise UsageError(f"a range is already up in {run_dir} (radguard range down --dir {run_dir})")
    for sub in ("peers", "gateway", "monitor", "decoy", "archive", "work"):
        shutil.rmtree(run_dir / sub, ignore_errors=True)
    for stale in ("radguard.db", "range.json", "ledger.key", "ledger.key.pub", "honeytokens.txt"):
        (run_dir / stale).unlink(missing_ok=True)
    shutil.rmtree(run_dir / "backup", ignore_errors=True)
    shutil.rmtree(run_dir / "pristine", ignore_errors=True)
    peers_dir = run_dir / "peers"
    peers_dir.mkdir(parents=True)
    (run_dir / "gateway").mkdir()
    (run_dir / "monitor").mkdir()
    (run_dir / "decoy").mkdir()
    procs: list[Proc] = []
    st: RangeState | None = None
    try:
        say(f"• range up in {run_dir} (127.0.0.1 only)")
        ws = start_storescp(peers_dir, ae="WS01")
        procs.append(Proc(name="workstation", pid=ws.proc.pid if ws.proc else 0, marker=str(run_dir)))
        rogue = start_storescp(peers_dir, ae="EXFIL")
        procs.append(Proc(name="rogue", pid=rogue.proc.pid if rogue.proc else 0, marker=str(run_dir)))
        known = {"ws01": ("WS01", LOOPBACK, ws.port), "ct01": ("CT01", LOOPBACK, 104),
                 "us01": ("US01", LOOPBACK, 104), "exfil": ("EXFIL", LOOPBACK, rogue.port)}
        pacs = start_orthanc(peers_dir, ae="PACS", modalities=known, overrides=dicomweb_overrides())
        procs.append(Proc(name="pacs", pid=pacs.proc.pid if pacs.proc else 0, marker=str(run_dir)))
        archive = start_dcmqrscp(peers_dir, ae="ARCHIVE", peers={"WS01": (LOOPBACK, ws.port)})
        procs.append(Proc(name="archive", pid=archive.proc.pid if archive.proc else 0, marker=str(run_dir)))
        gw_port, gw_tls_port, decoy_port = free_port(), free_port(), free_port()
        from radguard.range.pki import make_pki

        make_pki(run_dir / "gateway" / "tls", host=LOOPBACK)
        ports = [pacs.port, gw_port, ws.port, archive.port, rogue.port, decoy_port]
        from radguard.assess.targets import DEFAULT_PORTS

        watched = sorted({*ports, pacs.http_port, *DEFAULT_PORTS, *SWEEP_PORTS})
        baseline = run_dir / "monitor" / "baseline.json"
        baseline.write_text(json.dumps(BASELINE, indent=1) + "\n")
        st = RangeState(
            run_dir=str(run_dir), host=LOOPBACK, pacs_ae="PACS", pacs_port=pacs.port, pacs_http_port=pacs.http_port,
            gateway_ae="RADGUARD", gateway_port=gw_port, workstation_ae="WS01", workstation_port=ws.port,
            workstation_store=str(ws.extra["store"]), archive_ae="ARCHIVE", archive_port=archive.port,
            rogue_ae="EXFIL", rogue_port=rogue.port, rogue_store=str(rogue.extra["store"]),
            archive_dir=str(run_dir / "archive"), backup_dir=str(run_dir / "backup"),
            pristine_dir=str(run_dir / "pristine"), key=str(run_dir / "ledger.key"), db=str(run_dir / "radguard.db"),
            gateway_config=str(run_dir / "gateway" / "gateway.toml"),
            gateway_audit=str(run_dir / "gateway" / "audit.jsonl"),
            monitor_alerts=str(run_dir / "monitor" / "alerts.jsonl"), decoy_port=decoy_port,
            decoy_alerts=str(run_dir / "decoy" / "alerts.jsonl"),
            monitor_filter=" or ".join(f"tcp port {p}" for p in watched),
            monitor_args=[*(a for p in ports for a in ("--dicom-port", str(p))), "--baseline", str(baseline),
                          "--web-port", str(pacs.http_port),
                          "--threshold", f"web-harvest.min_objects={WEB_OBJECTS}",
                          "--threshold", f"web-harvest.window_seconds={WEB_WINDOW}",
                          "--threshold", f"bulk-retrieve.min_objects={BULK_OBJECTS}",
                          "--threshold", f"dicom-sweep.min_endpoints={SWEEP_ENDPOINTS}"],
            procs=procs, started=time.time(), gateway_tls_port=gw_tls_port,
            tls_dir=str(run_dir / "gateway" / "tls"))
        st.save()
        images = demo_images()
        for image in images:  # one by one: a file the PACS refuses must not stop the others
            r = storescu(pacs.host, pacs.port, [image], called_ae="PACS", calling_ae="CT01", extra_args=["-xs"])
            if r.returncode != 0:
                r = storescu(pacs.host, pacs.port, [image], called_ae="PACS", calling_ae="CT01")
        if not pacs.rest("GET", "/instances"):
            raise RuntimeError(f"seeding the PACS failed: {r.stderr[-300:]}")
        st.patient_names = sorted({_patient_name(p) for p in images} - {""})
        st.honeytoken_studies = plant_honeytokens(st)  # before the decoy, gateway and monitor read the file
        st.procs.append(start_decoy(st))
        Path(st.gateway_config).write_text(gateway_toml(
            host=st.host, port=st.gateway_port, pacs_port=st.pacs_port, pacs_ae=st.pacs_ae, gateway_ae=st.gateway_ae,
            workstation_ae=st.workstation_ae, workstation_port=st.workstation_port, tls=_tls_lines(st)))
        st.procs.append(start_gateway(st))
        st.procs.append(start_monitor(st))
        st.save()
        st.study_uids = _make_archive(st, images)
        rc, _ = radguard(["keygen", "--key", st.key, "--json"], run_dir)
        _check(rc, "keygen")
        rc, _ = radguard(["seal", st.archive_dir, "--key", st.key, "--workers", "1", "--json"], run_dir)
        _check(rc, "seal")
        rc, doc = radguard(["canary", "plant", str(Path(st.archive_dir) / "canary"), "--count", "2", "--key", st.key,
                            "--json"], run_dir)
        _check(rc, "canary plant")
        st.canaries = [str(c) for c in doc.get("canaries", [])]
        shutil.copytree(st.archive_dir, st.backup_dir, copy_function=shutil.copy2)
        shutil.copytree(st.archive_dir, st.pristine_dir, copy_function=shutil.copy2)
        st.save()
    except BaseException:
        for p in reversed(procs if st is None else st.procs):
            p.stop()
        raise
    say(f"  PACS      Orthanc  DICOM {st.host}:{st.pacs_port}  REST :{st.pacs_http_port}")
    say(f"  gateway   radguard {st.host}:{st.gateway_port}, DICOM TLS :{st.gateway_tls_port}  "
        f"(AE {st.gateway_ae} -> PACS)")
    say(f"  WS01      storescp {st.host}:{st.workstation_port}   ARCHIVE dcmqrscp {st.host}:{st.archive_port}")
    say(f"  EXFIL     rogue storescp {st.host}:{st.rogue_port} (attacker)   monitor: radguard monitor -i lo")
    say(f"  decoy     radguard decoy {st.host}:{st.decoy_port} ({DECOY_PRODUCT})   "
        f"{len(st.honeytoken_studies)} honeytoken studies in the PACS")
    say(f"  archive   {st.archive_dir} sealed, {len(st.canaries)} canaries, backup {st.backup_dir}")
    return st


def _patient_name(path: Path) -> str:
    import pydicom

    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True).get("PatientName", "") or "")
    except Exception:
        return ""


def listening(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def status(run_dir: Path) -> dict[str, Any]:
    """Which processes of the range run and which ports listen."""
    st = RangeState.load(run_dir.resolve())
    procs = {p.name: {"pid": p.pid, "alive": p.alive()} for p in st.procs}
    ports = {str(p): listening(st.host, p) for p in st.ports()}
    return {"dir": st.run_dir, "up": all(v["alive"] for v in procs.values()) and all(ports.values()),
            "processes": procs, "ports": ports, "state": st.to_dict()}


def down(run_dir: Path) -> dict[str, Any]:
    """Stop every process of the range; returns which were stopped and whether any port still listens."""
    st = RangeState.load(run_dir.resolve())
    stopped = []
    for p in reversed(st.procs):
        if p.alive():
            p.stop()
            stopped.append(p.name)
    deadline = time.monotonic() + 5
    left = [p for p in st.ports() if listening(st.host, p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in st.ports() if listening(st.host, p)]
    st.procs = []
    st.save()
    return {"dir": st.run_dir, "stopped": stopped, "listening": left}


def dcmtk(args: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a DCMTK tool (as an attacker or a user would); never raises on a non-zero exit."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=dcmtk_env())
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(args, 124, str(exc.stdout or ""), "timeout")
