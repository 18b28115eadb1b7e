"""``trailing-data``: bytes after the end of the data set (PS3.10 §7.1: exactly one data set), on
pydicom's bundled files and pydicom-written data sets with crafted trailers."""

from __future__ import annotations

import hashlib

import pytest

from radguard.inspect.checks import trailing
from radguard.inspect.obj import from_bytes
from tests.support.corpus import PE_STUB, SHELL, Threat, assert_exact_findings, read, threats_of, zip_bytes
from tests.support.wire import dataset_bytes, image

RULE = "trailing-data"
IMPLICIT = "1.2.840.10008.1.2"


@pytest.mark.parametrize("threat", threats_of(RULE), ids=lambda t: t.name)
def test_corpus_case_gives_exact_findings(threat: Threat) -> None:
    assert_exact_findings(threat, trailing.check)


def test_trailer_evidence_names_offset_size_and_hash() -> None:
    clean = read("CT_small.dcm")
    payload = zip_bytes()
    (f,) = trailing.check(from_bytes(clean + payload, "ct.dcm"))
    assert (f.rule, f.severity.value, f.title) == (RULE, "high", f"{len(payload)} bytes of zip data after the data set")
    assert f.evidence == {"kind": "zip", "offset": len(clean), "size": len(payload),
                          "trailer_sha256": hashlib.sha256(payload).hexdigest()}


@pytest.mark.parametrize(("payload", "severity"),
                         [(PE_STUB, "critical"), (SHELL, "high"), (b"\x01\x02" * 40, "medium")])
def test_c_store_data_set_with_a_trailer(payload: bytes, severity: str) -> None:
    data = dataset_bytes(image())
    (f,) = trailing.check(from_bytes(data + payload, "peer:CT01", transfer_syntax=IMPLICIT))
    assert (f.severity.value, f.evidence["offset"], f.evidence["size"]) == (severity, len(data), len(payload))
    assert "Doe" not in str(f.evidence) and "ID-123" not in str(f.evidence)


def test_quiet_on_whole_data_sets() -> None:
    assert list(trailing.check(from_bytes(read("MR_small.dcm"), "mr.dcm"))) == []
    assert list(trailing.check(from_bytes(dataset_bytes(image()), "peer", transfer_syntax=IMPLICIT))) == []
