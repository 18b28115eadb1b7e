"""radguard pcap on a real capture of a fake patient's stores and queries: records, Zeek log, SARIF,
JSON and the store carry no PHI values; truncated and corrupted captures are results with a clear
error, not exit 2."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli import check_sarif, json_doc, no_traceback, radguard
from tests.e2e.phi import BIRTH_DATE, NAME, PATIENT_ID, leaks, make_phi_files, sqlite_dump
from tests.support.peers import LOOPBACK, dcmtk_env, start_dcmqrscp

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def tcpdump(path: Path, port: int) -> Iterator[None]:
    proc = subprocess.Popen(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w", str(path),
                             f"tcp port {port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert b"listening" in line, line
    time.sleep(0.3)
    try:
        yield
    finally:
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def _dcmtk(args: list[str]) -> None:
    proc = subprocess.run(args, env=dcmtk_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-1000:]


def _complete(pcap: Path) -> bool:
    from radguard.monitor.analyzer import analyze

    records = analyze([pcap]).records
    dimse = [r for r in records if r.get("kind") == "dimse"]
    return len(dimse) == 4 and not any(r.get("gaps") for r in records)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stores of the fake patient into dcmqrscp, then C-FINDs by name and by ID, captured on loopback."""
    tmp = tmp_path_factory.mktemp("phi-capture")
    files = make_phi_files(tmp / "files")
    qr = start_dcmqrscp(tmp, peers={"KNOWNSCU": (LOOPBACK, 1)})
    base = ["-aet", "KNOWNSCU", "-aec", qr.ae, LOOPBACK, str(qr.port)]
    pcap = tmp / "phi.pcap"
    try:
        for _attempt in range(3):  # tcpdump on a loaded machine can lose packets: capture again
            with tcpdump(pcap, qr.port):
                _dcmtk(["storescu", *base, *map(str, files)])
                _dcmtk(["findscu", "-P", *base, "-k", "QueryRetrieveLevel=PATIENT", "-k", f"PatientName={NAME}",
                        "-k", "PatientID", "-k", "PatientBirthDate"])
                _dcmtk(["findscu", "-S", *base, "-k", "QueryRetrieveLevel=STUDY", "-k", f"PatientID={PATIENT_ID}",
                        "-k", "PatientBirthDate", "-k", "StudyInstanceUID"])
            if _complete(pcap):
                break
    finally:
        qr.stop()
    raw = pcap.read_bytes()
    assert NAME.encode() in raw and PATIENT_ID.encode() in raw and BIRTH_DATE.encode() in raw
    return pcap


def test_pcap_outputs_and_store_carry_no_phi(capture: Path, tmp_path: Path) -> None:
    records, zeek, sarif, baseline = (tmp_path / "records.jsonl", tmp_path / "zeek", tmp_path / "pcap.sarif",
                                      tmp_path / "baseline.json")
    proc = radguard(["pcap", str(capture), "--json", "--records", str(records), "--zeek-log", str(zeek),
                     "--sarif", str(sarif), "--learn-baseline", str(baseline), "--fail-on", "critical"])
    doc = json_doc(proc, "pcap", rc=(0, 1))
    commands = sorted(r["command"] for r in doc["records"] if r["kind"] == "dimse")
    assert commands == ["C-FIND", "C-FIND", "C-STORE", "C-STORE"], (doc["records"], doc["errors"], doc["stats"])
    rules = {f["rule"] for f in doc["findings"]}
    assert "cleartext-phi" in rules, rules
    check_sarif(sarif, doc["findings"])
    outputs: dict[str, str] = {"stdout": proc.stdout, "stderr": proc.stderr, "records": records.read_text(),
                               "sarif": sarif.read_text(), "baseline": baseline.read_text()}
    outputs.update({p.name: p.read_text() for p in zeek.iterdir()})
    # the same capture for people (table) and with every detection, including the baseline ones
    table = radguard(["pcap", str(capture), "--profile", "all", "--baseline", str(baseline)])
    no_traceback(table)
    outputs.update({"table.out": table.stdout, "table.err": table.stderr})
    import os
    outputs["store"] = sqlite_dump(Path(os.environ["RADGUARD_DB"].removeprefix("sqlite:///")))
    assert {k: leaks(v) for k, v in outputs.items() if leaks(v)} == {}


def _records(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return json_doc(proc, "pcap", rc=(0, 1))


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9])
def test_truncated_capture_gives_records_up_to_the_damage(capture: Path, tmp_path: Path, cut: float) -> None:
    whole = _records(radguard(["pcap", str(capture), "--json", "--no-store"]))
    raw = capture.read_bytes()
    cut_file = tmp_path / "cut.pcap"
    cut_file.write_bytes(raw[: int(len(raw) * cut)])
    proc = radguard(["pcap", str(cut_file), "--json", "--no-store"])
    doc = _records(proc)
    assert doc["errors"] and "cut.pcap" in json.dumps(doc["errors"]), doc.get("errors")
    assert [ln for ln in proc.stderr.splitlines() if ln.strip()], "a clear warning on stderr"
    assert 0 < len(doc["records"]) <= len(whole["records"])


def test_corrupted_captures_are_results(capture: Path, tmp_path: Path) -> None:
    raw = bytearray(capture.read_bytes())
    cases = {
        "empty.pcap": b"",
        "header-only.pcap": bytes(raw[:24]),
        "garbage.pcap": b"this is not a capture\n" * 10,
        "huge-record.pcap": bytes(raw[:24]) + b"\0" * 8 + b"\xff\xff\xff\x7f" * 2 + bytes(raw[40:200]),
        "flipped.pcap": bytes(b ^ 0x5A if 200 < i < 260 else b for i, b in enumerate(raw)),
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        proc = radguard(["pcap", str(path), "--json", "--no-store"])
        doc = _records(proc)
        if name not in ("flipped.pcap", "header-only.pcap"):  # those two are readable captures
            assert doc["errors"], name
        no_traceback(proc)
    # several files, one bad: the good one still gives its records
    proc = radguard(["pcap", str(tmp_path / "garbage.pcap"), str(capture), "--json", "--no-store"])
    doc = _records(proc)
    assert len(doc["errors"]) == 1 and len([r for r in doc["records"] if r["kind"] == "dimse"]) == 4


def test_pcapng_and_nanosecond_pcap_give_the_same_records(capture: Path, tmp_path: Path) -> None:
    """The same capture rewritten by Wireshark's editcap as pcapng and as nanosecond pcap."""
    docs = []
    for fmt in ("pcap", "pcapng", "nsecpcap"):
        out = tmp_path / f"cap.{fmt}"
        subprocess.run(["editcap", "-F", fmt, str(capture), str(out)], check=True, capture_output=True, timeout=30)
        docs.append(json_doc(radguard(["pcap", str(out), "--json", "--no-store"]), "pcap", rc=(0, 1)))
    assert docs[0]["records"] and all(d["errors"] == [] for d in docs)
    assert docs[1]["records"] == docs[0]["records"] and docs[2]["records"] == docs[0]["records"]
    assert [f["rule"] for f in docs[1]["findings"]] == [f["rule"] for f in docs[0]["findings"]]
