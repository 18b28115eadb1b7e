"""``not-dicom``: neither a Part 10 file (PS3.10 §7.1 ``DICM``) nor a data set, with the ransomware
verdicts (encrypted, partially encrypted, ransom note), on bundled files encrypted with AES-CTR."""

from __future__ import annotations

import pytest

from radguard.inspect.checks import not_dicom
from radguard.inspect.obj import from_bytes
from tests.support.corpus import PE_STUB, Threat, assert_exact_findings, encrypt, read, threats_of

RULE = "not-dicom"


@pytest.mark.parametrize("threat", threats_of(RULE), ids=lambda t: t.name)
def test_corpus_case_gives_exact_findings(threat: Threat) -> None:
    assert_exact_findings(threat, not_dicom.check)


def test_encrypted_file_evidence() -> None:
    data = encrypt(read("CT_small.dcm"))
    (f,) = not_dicom.check(from_bytes(data, "img.dcm"))
    assert (f.rule, f.severity.value, f.title) == (RULE, "critical", "File looks encrypted (ransomware?)")
    assert f.evidence["verdict"] == "encrypted" and f.evidence["size"] == len(data)
    assert f.evidence["head_entropy"] > 7.5 and f.evidence["tail_entropy"] > 7.5


def test_foreign_files() -> None:
    (f,) = not_dicom.check(from_bytes(b"%PDF-1.4\n" + bytes(300), "report.pdf"))
    assert (f.severity.value, f.evidence["kind"], f.evidence["verdict"]) == ("low", "pdf", "foreign")
    (f,) = not_dicom.check(from_bytes(PE_STUB * 10, "img.dcm.locked"))  # ransomware extension, not random
    assert (f.severity.value, f.evidence["ransom_extension"], f.evidence["verdict"]) == ("medium", ".locked", "foreign")


def test_ransom_note_words_not_the_note() -> None:
    note = b"All your files are encrypted. Send 1 bitcoin to decrypt them. Patient Doe^Jane is ours.\n"
    (f,) = not_dicom.check(from_bytes(note, "HOW_TO_DECRYPT.txt"))
    assert f.evidence["verdict"] == "ransom-note" and f.severity.value == "critical"
    assert set(f.evidence["note_words"]) >= {"bitcoin", "decrypt"}
    assert "Doe" not in str(f.evidence)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_implicit.dcm", "image_dfl.dcm"])
def test_quiet_on_dicom(name: str) -> None:
    assert list(not_dicom.check(from_bytes(read(name), name))) == []
