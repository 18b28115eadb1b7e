"""PHI never leaves the archive commands: keygen, seal, audit (tampering), recover, canary, findings, runs.

Files carry a distinctive fake patient; every stdout/stderr/JSON/SARIF and the SQLite store dump
must be free of those values.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread

from tests.e2e.cli import check_sarif, json_doc, radguard
from tests.e2e.phi import TAMPERED_BIRTH_DATE, leaks, make_phi_files, sqlite_dump
from tests.support.corpus import PE_STUB, encrypt


@pytest.fixture
def sealed(tmp_path: Path) -> dict[str, Any]:
    """A sealed PHI archive, a backup copy of it, the outputs so far (checked for leaks by the tests)."""
    env = {"RADGUARD_KEY": str(tmp_path / "keys" / "signing.pem")}
    arc = tmp_path / "archive"
    files = make_phi_files(arc, ("CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "JPEG2000.dcm", "rtplan.dcm"))
    assert leaks(files[0].read_bytes())  # the check itself sees the fake patient in the files
    backup = tmp_path / "backup"
    shutil.copytree(arc, backup)
    outputs: list[str] = []
    key = radguard(["keygen", "--json"], env=env)
    json_doc(key, "keygen")
    seal_sarif = tmp_path / "seal.sarif"
    seal = radguard(["seal", str(arc), "--workers", "2", "--json", "--sarif", str(seal_sarif)], env=env)
    doc = json_doc(seal, "seal")
    assert doc["summary"]["files"] == 5 and doc["summary"]["hashed"] == 5 and doc["findings"] == []
    check_sarif(seal_sarif, doc["findings"])
    outputs += [key.stdout, key.stderr, seal.stdout, seal.stderr, seal_sarif.read_text()]
    return {"env": env, "arc": arc, "files": files, "backup": backup, "outputs": outputs, "seal_run": doc["run"],
            "db": Path(os.environ["RADGUARD_DB"].removeprefix("sqlite:///"))}


def _attack(files: list[Path]) -> None:
    # header tamper: a birth date rewritten (names the attribute, never the values)
    ds = dcmread(files[0])
    ds.PatientBirthDate = TAMPERED_BIRTH_DATE
    ds.save_as(files[0])
    # pixel tamper in the MR image
    ds = dcmread(files[1])
    arr = bytearray(ds.PixelData)
    arr[100:140] = bytes(40)
    ds.PixelData = bytes(arr)
    ds.save_as(files[1])
    # weaponised preamble, encrypted file, missing file
    data = files[2].read_bytes()
    files[2].write_bytes(PE_STUB.ljust(128, b"\0") + data[128:])
    files[3].write_bytes(encrypt(files[3].read_bytes()))
    files[4].unlink()


def test_archive_attack_audit_recover_without_phi(sealed: dict[str, Any], tmp_path: Path) -> None:
    env, arc, files, outputs = sealed["env"], sealed["arc"], sealed["files"], sealed["outputs"]
    _attack(files)
    sarif = tmp_path / "audit.sarif"
    audit = radguard(["audit", str(arc), "--workers", "2", "--json", "--sarif", str(sarif)], env=env)
    doc = json_doc(audit, "audit", rc=1)
    by_file = sorted((Path(f["target"]).name, f["rule"], f["severity"]) for f in doc["findings"])
    assert by_file == [
        ("IM0000.dcm", "header-tampered", "high"),
        ("IM0001.dcm", "pixel-tampered", "critical"),
        ("IM0002.dcm", "bytes-changed", "medium"),  # the preamble: outside header and pixels, not re-encoded
        ("IM0002.dcm", "executable-preamble", "critical"),
        ("IM0003.dcm", "not-dicom", "critical"),
        ("IM0004.dcm", "missing", "high"),
    ], by_file
    header = next(f for f in doc["findings"] if f["rule"] == "header-tampered")
    assert "PatientBirthDate" in str(header["evidence"])
    check_sarif(sarif, doc["findings"])
    outputs += [audit.stdout, audit.stderr, sarif.read_text()]

    dry = radguard(["recover", str(arc), "--from", str(sealed["backup"]), "--json"], env=env)
    outputs += [dry.stdout, dry.stderr]
    json_doc(dry, "recover", rc=(0, 1))
    apply = radguard(["recover", str(arc), "--from", str(sealed["backup"]), "--apply", "--json"], env=env)
    outputs += [apply.stdout, apply.stderr]
    json_doc(apply, "recover", rc=(0, 1))
    after = radguard(["audit", str(arc), "--workers", "2", "--json", "--fail-on", "low"], env=env)
    outputs += [after.stdout, after.stderr]
    doc2 = json_doc(after, "audit", rc=(0, 1))
    assert [f for f in doc2["findings"] if f["severity"] != "info"] == []

    canary = radguard(["canary", "plant", str(arc / "canaries"), "--json"], env=env)
    outputs += [canary.stdout, canary.stderr]
    json_doc(canary, "canary")
    fsarif = tmp_path / "findings.sarif"
    for args, kind in ((["findings", "list", str(doc["run"]), "--json", "--fail-on", "info"], "findings"),
                       (["findings", "list", str(doc["run"]), "--sarif", str(fsarif), "--fail-on", "critical"], None),
                       (["findings", "list", "--kind", "seal", "--json", "--fail-on", "info"], "findings"),
                       (["findings", "diff", str(doc["run"]), str(doc2["run"]), "--json"], "findings-diff"),
                       (["runs", "--json"], "runs"), (["runs"], None)):
        proc = radguard(args, env=env)
        outputs += [proc.stdout, proc.stderr]
        if kind:
            json_doc(proc, kind, rc=1 if "list" in args and "--kind" not in args else 0)
        else:
            assert proc.returncode == (1 if "list" in args else 0), proc.stderr
    check_sarif(fsarif, doc["findings"])
    outputs.append(fsarif.read_text())
    diff = json_doc(radguard(["findings", "diff", str(doc["run"]), str(doc2["run"]), "--json"], env=env),
                    "findings-diff")
    assert sorted(f["rule"] for f in diff["fixed"]) == sorted(r for _, r, _ in by_file)
    # people's output too: a table run of audit on the (clean again) archive
    table = radguard(["audit", str(arc), "--workers", "1"], env=env)
    outputs += [table.stdout, table.stderr]

    found = {i: leaks(text) for i, text in enumerate(outputs) if leaks(text)}
    assert found == {}
    assert leaks(sqlite_dump(sealed["db"])) == []


def _birth_date_digests(dump: str) -> set[str]:
    # the ledger packs element digests as ggggeeee + 8 hex per element (radguard.archive.digest.pack_elements)
    found = set(re.findall(r'"00100030": "([0-9a-fA-F]+)"', dump))
    for packed in re.findall(r"'((?:[0-9A-Fa-f]{16})+)'", dump):
        found.update(packed[i + 8 : i + 16] for i in range(0, len(packed), 16) if packed[i : i + 8] == "00100030")
    return found


def test_ledger_element_digests_are_keyed_per_site(tmp_path: Path) -> None:
    digests = []
    for site, source in (("a", "CT_small.dcm"), ("b", "rtplan.dcm")):
        db = tmp_path / f"site-{site}.db"
        env = {"RADGUARD_DB": f"sqlite:///{db}", "RADGUARD_KEY": str(tmp_path / f"{site}.pem"),
               "RADGUARD_PHI_SECRET": site * 32}
        make_phi_files(tmp_path / site, (source,))
        json_doc(radguard(["keygen", "--json"], env=env), "keygen")
        json_doc(radguard(["seal", str(tmp_path / site), "--workers", "1", "--json"], env=env), "seal")
        digests.append(_birth_date_digests(sqlite_dump(db)))
    assert len(digests[0]) == 1 and len(digests[1]) == 1
    assert digests[0] != digests[1], "same birth date, same digest across two sites with different secrets"


def test_weaponised_and_malformed_phi_files_findings_carry_no_values(tmp_path: Path) -> None:
    """Damage right inside the patient's name, PHI in a preamble script, a trailer and an HL7 note."""
    from tests.e2e.phi import NAME

    src = make_phi_files(tmp_path / "src", ("CT_small.dcm",))[0]
    raw = src.read_bytes()
    src.unlink()
    at = raw.index(NAME.encode())
    arc = tmp_path / "arc"
    arc.mkdir()
    (arc / "trunc.dcm").write_bytes(raw[: at + 5])
    overrun = bytearray(raw)
    overrun[at - 2:at] = (0xFFF0).to_bytes(2, "little")
    (arc / "overrun.dcm").write_bytes(bytes(overrun))
    badvr = bytearray(raw)
    badvr[at - 4:at - 2] = b"\x01\x02"
    (arc / "badvr.dcm").write_bytes(bytes(badvr))
    (arc / "trailing.dcm").write_bytes(raw + b"PK\x03\x04" + NAME.encode() * 20)
    (arc / "preamble.dcm").write_bytes(b"#!/bin/sh\necho Zyxwv^Qwerty PID-7788-UNIQUE\n".ljust(128, b"\0")
                                       + raw[128:])
    (arc / "note.dcm").write_bytes(b"MSH|^~\\&|RIS|HOSP|PACS||20240101||ORM^O01|1|P|2.3\r"
                                   b"PID|1||PID-7788-UNIQUE||Zyxwv^Qwerty||19010203|M\r")
    sarif = tmp_path / "audit.sarif"
    proc = radguard(["audit", str(arc), "--workers", "2", "--json", "--sarif", str(sarif)])
    doc = json_doc(proc, "audit", rc=1)
    got = sorted((Path(f["target"]).name, f["rule"], f["evidence"].get("keyword")) for f in doc["findings"])
    assert got == [("badvr.dcm", "malformed", "PatientName"), ("note.dcm", "not-dicom", None),
                   ("overrun.dcm", "malformed", "PatientName"), ("preamble.dcm", "executable-preamble", None),
                   ("trailing.dcm", "trailing-data", None), ("trunc.dcm", "malformed", "PatientName")], got
    check_sarif(sarif, doc["findings"])
    texts = [proc.stdout, proc.stderr, sarif.read_text(),
             sqlite_dump(Path(os.environ["RADGUARD_DB"].removeprefix("sqlite:///")))]
    assert [leaks(t) for t in texts] == [[], [], [], []]
