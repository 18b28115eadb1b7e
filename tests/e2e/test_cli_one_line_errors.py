"""Issue 16 item 9 (CLI parts): failures say what went wrong in one line, never "internal error".

A binary or DICOM file given to ``audit-fhir``, an output folder under /proc, and a target that is no
address (``scan 999.1.1.1``, which used to exit 0 after a DNS lookup) are usage errors: exit 2, one line.
(A binary ``--config`` and an oversized ``--peer``: tests/e2e/test_contain_unknown_peer.py.)
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.e2e.cli import radguard, usage_error


def _dicom_file(path: Path) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.PatientID = "X"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_audit_fhir_on_binary_and_dicom_files(tmp_path: Path) -> None:
    binary = tmp_path / "random.bin"
    binary.write_bytes(bytes(range(256)) * 40)
    for path in (binary, _dicom_file(tmp_path / "ct.dcm")):
        line = usage_error(radguard(["audit-fhir", str(path)]))
        assert "not a gateway audit file" in line and "internal error" not in line


def test_audit_fhir_on_a_text_file_without_records(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\nworld\n")
    line = usage_error(radguard(["audit-fhir", str(text)]))
    assert "not a gateway audit file" in line and "2 line(s)" in line


@pytest.mark.parametrize("option,value", [("--zeek-log", "/proc/x"), ("--records", "/proc/x/records.jsonl")])
def test_pcap_output_under_proc(tmp_path: Path, option: str, value: str) -> None:
    pcap = tmp_path / "empty.pcap"
    pcap.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    line = usage_error(radguard(["pcap", option, value, str(pcap)]))
    assert line.startswith(f"radguard: error: {option} {value}: cannot create") and "internal error" not in line


@pytest.mark.parametrize("target", ["999.1.1.1", "10.0.0", "1.2.3.4.5", "256.0.0.1"])
def test_scan_of_a_non_address_is_a_usage_error(target: str) -> None:
    line = usage_error(radguard(["scan", target, "--no-store"]))
    assert target in line and "not a valid IP address" in line


def test_scan_of_an_unresolvable_name_stays_a_result() -> None:
    proc = radguard(["scan", "no-such-host.invalid", "--no-store", "--json"])  # RFC 2606: never resolves
    assert proc.returncode == 0, proc.stderr
    assert "resolve-failed" in proc.stdout
