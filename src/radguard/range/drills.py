"""The demo's drills: each attacks the simulated department and runs one defense against it.

A drill returns a :class:`~radguard.range.department.StepResult` whose ``data["attacks"]``
lists each attack tried and whether the defense stopped (``blocked``) or saw
(``detected``) it, from which the demo computes the efficacy table.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from radguard.range.department import Department, StepResult, radguard
from radguard.range.lab import gateway_toml
from radguard.range.peers import dcmtk_env, wait_port


def _dcmtk(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=dcmtk_env())


def _rules(doc: dict[str, Any]) -> set[str]:
    return {str(f["rule"]) for f in doc.get("findings", [])}


# ----------------------------------------------------------------- scan
def step_scan(dept: Department) -> StepResult:
    """Identify: scan the department's DICOM and web endpoints."""
    ports = ",".join(str(p) for p in dept.scan_ports)
    rc, doc = radguard(
        ["scan", "127.0.0.1", "--ports", ports, "--json", "--sarif", str(dept.out / "scan.sarif")], dept.out
    )
    (dept.out / "scan.json").write_text(json.dumps(doc, indent=1))
    findings = doc.get("findings", [])
    by_sev: dict[str, int] = {}
    for f in findings:
        by_sev[f["severity"]] = by_sev.get(f["severity"], 0) + 1
    rules = sorted({f["rule"] for f in findings})
    ok = rc in (0, 1) and bool(findings)
    return StepResult(
        name="identify: radguard scan",
        ok=ok,
        summary=f"{len(findings)} findings {by_sev} rules={rules}",
        data={"exit_code": rc},
    )



# ----------------------------------------------------------------- gateway
def step_gateway(dept: Department) -> StepResult:
    """Protect: the gateway in front of the PACS: allowlist, least privilege, containment, audit."""
    gw_dir = dept.out / "gateway"
    gw_dir.mkdir(exist_ok=True)
    port = dept.extra_ports["gateway"]
    cfg = gw_dir / "gateway.toml"
    cfg.write_text(gateway_toml(host=dept.pacs.host, port=port, pacs_port=dept.pacs.port,
                                workstation_port=dept.workstation.port))
    env = dict(os.environ, RADGUARD_DB=f"sqlite:///{dept.out / 'radguard.db'}", TCP_NODELAY="1")
    log = (gw_dir / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "radguard.cli.main", "gateway", "--config", str(cfg), "-v"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    log.close()
    attacks: list[dict[str, Any]] = []
    try:
        wait_port("127.0.0.1", port, proc=proc)
        img = [str(p) for p in dept.images[:2]]
        host = "127.0.0.1"

        def store(aet: str, aec: str = "RADGUARD") -> bool:
            return _dcmtk(["storescu", "-aet", aet, "-aec", aec, host, str(port), *img]).returncode == 0

        def find(aet: str) -> bool:
            """True only if the C-FIND completed with a final Success status."""
            r = _dcmtk(["findscu", "-v", "-S", "-aet", aet, "-aec", "RADGUARD", "-k", "QueryRetrieveLevel=STUDY",
                        "-k", "StudyInstanceUID", host, str(port)])
            return r.returncode == 0 and "Final Find Response (Success)" in (r.stdout + r.stderr)

        legit_store = store("CT01")
        attacks.append({"attack": "unknown AE stores to the PACS", "blocked": not store("EVIL")})
        guessed = not store("CT01", "PACS")
        attacks.append({"attack": "known AE calls the PACS by a guessed AE title", "blocked": guessed})
        harvest = not find("CT01")
        attacks.append({"attack": "modality (store-only) harvests the archive with C-FIND", "blocked": harvest})
        legit_find = find("WS01")
        move_bad = _dcmtk(["movescu", "-S", "-aet", "WS01", "-aec", "RADGUARD", "-aem", "EXFIL",
                           "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=1.2.3", host, str(port)])
        attacks.append({
            "attack": "C-MOVE of studies to an attacker's AE (EXFIL)",
            "blocked": "Success" not in move_bad.stderr or move_bad.returncode != 0,
        })
        rc_contain, _ = radguard(["contain", "--config", str(cfg), "--peer", "CT01", "--json"], dept.out)
        contained = rc_contain == 0 and not store("CT01")
        attacks.append({"attack": "compromised modality keeps sending after containment", "blocked": contained})
        radguard(["contain", "--config", str(cfg), "--release", "--json"], dept.out)
        released = store("CT01")
        time.sleep(1.2)  # the audit file is flushed within a second
        audit_lines = (gw_dir / "audit.jsonl").read_text().splitlines() if (gw_dir / "audit.jsonl").exists() else []
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    blocked = sum(1 for a in attacks if a["blocked"])
    ok = legit_store and legit_find and released and blocked == len(attacks) and bool(audit_lines)
    return StepResult(
        name="protect: radguard gateway + contain",
        ok=ok,
        summary=(
            f"{blocked}/{len(attacks)} attacks blocked; legitimate store={legit_store} query={legit_find} "
            f"after-release={released}; {len(audit_lines)} audit events"
        ),
        data={"attacks": attacks, "audit_events": len(audit_lines)},
    )


# ----------------------------------------------------------------- archive
def _make_archive(dept: Department, n_copies: int) -> tuple[Path, Path]:
    """A small archive of distinct objects (new UIDs per copy of the bundled images) and a backup of it."""
    import pydicom
    from pydicom.uid import generate_uid

    archive = dept.workdir / "archive"
    backup = dept.workdir / "backup"
    archive.mkdir()
    k = 0
    for i in range(n_copies):
        study = generate_uid()
        for src in dept.images:
            ds = pydicom.dcmread(src)
            ds.StudyInstanceUID = study
            ds.SeriesInstanceUID = generate_uid()
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            sub = archive / f"study{i:02d}"
            sub.mkdir(exist_ok=True)
            ds.save_as(sub / f"img{k:04d}.dcm", enforce_file_format=True)
            k += 1
    shutil.copytree(archive, backup)
    return archive, backup


def _ransom(files: list[Path], archive: Path) -> None:
    """Encrypt the first 4 KiB of each file (the fast 'intermittent' ransomware style) and rename it."""
    for f in files:
        data = bytearray(f.read_bytes())
        head = os.urandom(min(4096, len(data)))
        data[: len(head)] = head
        f.write_bytes(bytes(data))
        f.rename(f.with_suffix(f.suffix + ".locked"))
    (archive / "HOW_TO_DECRYPT.txt").write_text("Your files are encrypted. (demo ransom note)\n")


def _polyglot(f: Path) -> None:
    """CVE-2019-11687: put a PE executable header into the 128-byte preamble (the file stays valid DICOM)."""
    data = bytearray(f.read_bytes())
    stub = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00"
    data[: len(stub)] = stub
    f.write_bytes(bytes(data))


def _tamper_pixels(f: Path) -> None:
    """CT-GAN style: change a block of pixels, leave every header attribute intact."""
    import pydicom

    ds = pydicom.dcmread(f)
    arr = bytearray(ds.PixelData)
    mid = len(arr) // 2
    arr[mid : mid + 256] = bytes((b ^ 0x5A) for b in arr[mid : mid + 256])
    ds.PixelData = bytes(arr)
    ds.save_as(f)


def step_archive(dept: Department) -> StepResult:
    """Detect and recover: seal the archive, attack it (ransomware, polyglot, CT-GAN edit), audit, recover."""
    archive, backup = _make_archive(dept, n_copies=8)
    key = dept.out / "ledger.key"
    radguard(["keygen", "--key", str(key), "--json"], dept.out)
    os.environ["RADGUARD_KEY"] = str(key)
    rc_seal, _ = radguard(["seal", str(archive), "--key", str(key), "--json"], dept.out)
    files = sorted(archive.rglob("*.dcm"))
    ransomed = files[: max(20, len(files) // 3)]
    _ransom(ransomed, archive)
    rest = [f for f in files if f not in ransomed]
    _polyglot(rest[0])
    plain = [f for f in rest[1:] if "uncompressed" not in f.name]
    tampered = None
    for f in plain:
        try:
            _tamper_pixels(f)
            tampered = f
            break
        except (AttributeError, ValueError):
            continue
    # the backup holds one tampered copy too: recover must refuse it
    bad_backup = backup / ransomed[0].relative_to(archive)
    _tamper_pixels(bad_backup) if bad_backup.exists() else None

    _, audit_doc = radguard(["audit", str(archive), "--key", str(key) + ".pub", "--json"], dept.out)
    (dept.out / "audit-before.json").write_text(json.dumps(audit_doc, indent=1))
    rules = _rules(audit_doc)
    attacks = [
        {"attack": f"ransomware encrypted {len(ransomed)} files", "detected": "ransomware-burst" in rules},
        {"attack": "PE executable in the DICOM preamble (CVE-2019-11687)", "detected": "executable-preamble" in rules},
        {"attack": "pixels edited, headers intact (CT-GAN)", "detected": "pixel-tampered" in rules},
    ]
    t_rec = time.monotonic()
    rc_rec, rec_doc = radguard(["recover", "--from", str(backup), str(archive), "--apply", "--json"], dept.out)
    t_rec = time.monotonic() - t_rec
    (dept.out / "recover.json").write_text(json.dumps(rec_doc, indent=1))
    _, after_doc = radguard(["audit", str(archive), "--key", str(key) + ".pub", "--json"], dept.out)
    (dept.out / "audit-after.json").write_text(json.dumps(after_doc, indent=1))
    after_bad = [f for f in after_doc.get("findings", []) if f["severity"] in ("critical", "high")]
    actions = rec_doc.get("report", {}).get("actions", [])
    restored_from = {str(a.get("source")) for a in actions if a.get("action") == "restore"}
    refused = any(a.get("action") == "unrecoverable" and a.get("sop_instance_uid") for a in actions)
    attacks.append({"attack": "restore the attacker's version from a tampered backup copy",
                    "blocked": rc_rec in (0, 1) and bool(actions) and refused and str(bad_backup) not in restored_from})
    counts = rec_doc.get("report", {}).get("counts", {})
    ok = rc_seal in (0, 1) and all(a.get("detected", a.get("blocked")) for a in attacks)
    return StepResult(
        name="detect+recover: radguard seal/audit/recover",
        ok=ok,
        summary=(
            f"sealed {len(files)} objects; audit rules={sorted(rules)}; recover --apply {counts} in {t_rec:.1f}s; "
            f"left after recovery: {len(after_bad)} high/critical (the object whose only backup copy was tampered)"
        ),
        data={"attacks": attacks, "tampered": str(tampered), "after": len(after_bad)},
    )


# ----------------------------------------------------------------- pcap
def step_pcap(dept: Department) -> StepResult:
    """Detect: read the capture of everything above: DICOM records and network detections."""
    cap = dept.capture.stop() if dept.capture else None
    if cap is None:
        return StepResult(name="detect: radguard pcap", ok=False, summary="no capture (tcpdump missing)")
    ports = [dept.pacs.port, dept.workstation.port, dept.archive.port, *dept.extra_ports.values()]
    args = ["pcap", str(cap), "--json", "--records", str(dept.out / "records.jsonl"),
            "--zeek-log", str(dept.out / "zeek")]
    for p in ports:
        args += ["--dicom-port", str(p)]
    rc, doc = radguard(args, dept.out)
    records = doc.get("records", [])
    kinds: dict[str, int] = {}
    for r in records:
        key = str(r.get("command") or r.get("kind"))
        kinds[key] = kinds.get(key, 0) + 1
    rules = _rules(doc)
    attacks = [
        {"attack": "scanner sweeping DICOM ports", "detected": "dicom-sweep" in rules},
        {"attack": "patient data crossing the wire in clear text", "detected": "cleartext-phi" in rules},
    ]
    return StepResult(
        name="detect: radguard pcap",
        ok=rc in (0, 1) and bool(records),
        summary=f"{len(records)} records {kinds}; detections={sorted(rules)}",
        data={"attacks": attacks},
    )

