"""``executable-preamble``: the 128-byte preamble (PS3.10 §7.1) holding an executable or other non-TIFF
content (CVE-2019-11687 polyglots), on pydicom's bundled files with crafted preambles."""

from __future__ import annotations

import hashlib

import pytest

from radguard.inspect.checks import preamble
from radguard.inspect.obj import from_bytes
from tests.support.corpus import (
    CLEAN,
    ELF_HEAD,
    PE_STUB,
    Threat,
    assert_exact_findings,
    read,
    threats_of,
    with_preamble,
)
from tests.support.wire import dataset_bytes, image

RULE = "executable-preamble"


@pytest.mark.parametrize("threat", threats_of(RULE), ids=lambda t: t.name)
def test_corpus_case_gives_exact_findings(threat: Threat) -> None:
    assert_exact_findings(threat, preamble.check)


def test_pe_preamble_evidence_is_a_hash_and_counts() -> None:
    data = with_preamble("CT_small.dcm", PE_STUB)
    (f,) = preamble.check(from_bytes(data, "ct.dcm"))
    assert (f.rule, f.severity.value, f.target, f.title) == (RULE, "critical", "ct.dcm", "Preamble holds pe content")
    assert f.evidence == {"kind": "pe", "first_nonzero_offset": 0,
                          "nonzero_bytes": sum(1 for b in data[:128] if b),
                          "preamble_sha256": hashlib.sha256(data[:128]).hexdigest()}
    assert "CompressedSamples" not in str(f.evidence)  # the file's PatientName


def test_nonzero_foreign_bytes_are_low() -> None:
    (f,) = preamble.check(from_bytes(with_preamble("MR_small.dcm", bytes(40) + b"ACME"), "mr.dcm"))
    assert (f.severity.value, f.title, f.evidence["first_nonzero_offset"]) == ("low", "Preamble is not zero", 40)
    (f,) = preamble.check(from_bytes(with_preamble("MR_small.dcm", bytes(100) + ELF_HEAD), "mr.dcm"))
    assert f.evidence["kind"] == "other"  # an ELF header must start the file to run


@pytest.mark.parametrize("name", CLEAN[:6])
def test_quiet_on_clean_files_and_bare_data_sets(name: str) -> None:
    assert list(preamble.check(from_bytes(read(name), name))) == []
    assert list(preamble.check(from_bytes(dataset_bytes(image()), "c-store", transfer_syntax="1.2.840.10008.1.2"))) \
        == []  # a data set received over the network has no preamble
