"""``active-content``: encapsulated PDF with actions (PDF 2.0 §12.6) or embedded files, encapsulated
CDA/HTML with script, executables or archives inside OB/UN/private values (PS3.5 §6.2); documents
written with pydicom, payloads crafted for the check."""

from __future__ import annotations

import hashlib

import pytest

from radguard.inspect.checks import active_content
from radguard.inspect.obj import from_bytes
from tests.support.corpus import (
    ELF_HEAD,
    PDF_CLEAN,
    PE_STUB,
    Threat,
    assert_exact_findings,
    read,
    threats_of,
    with_private,
)
from tests.support.corpus import encapsulated_document as document
from tests.support.wire import dataset_bytes, image

RULE = "active-content"


@pytest.mark.parametrize("threat", threats_of(RULE), ids=lambda t: t.name)
def test_corpus_case_gives_exact_findings(threat: Threat) -> None:
    assert_exact_findings(threat, active_content.check)


def test_pdf_tokens_set_the_severity() -> None:
    submit = PDF_CLEAN.replace(b"/Pages 2 0 R", b"/Pages 2 0 R /AcroForm << /SubmitForm 5 0 R >>")
    (f,) = active_content.check(from_bytes(document(submit, "application/pdf", "submit"), "doc.dcm"))
    assert (f.severity.value, f.evidence["pdf_tokens"], f.evidence["kind"]) == ("medium", ["/SubmitForm"], "pdf")
    assert f.evidence["keyword"] == "EncapsulatedDocument" and f.evidence["mime_type"] == "application/pdf"
    stream = b"6 0 obj << /Type /EmbeddedFile /Length 4 >> stream\nMZ\x90\x00\nendstream\nendobj\n"
    embedded = PDF_CLEAN.replace(b"trailer", stream + b"trailer")
    (f,) = active_content.check(from_bytes(document(embedded, "application/pdf", "emb"), "doc.dcm"))
    assert f.severity.value == "high" and f.evidence["pdf_tokens"] == ["/EmbeddedFile"]


def test_html_event_handler_in_cda() -> None:
    cda = b'<ClinicalDocument><text><img src="x" onerror = "alert(1)"/></text></ClinicalDocument>'
    (f,) = active_content.check(from_bytes(document(cda, "text/xml", "onerror"), "cda.dcm"))
    assert (f.severity.value, f.evidence["kind"], f.evidence["markup_tokens"]) == ("high", "markup", ["onerror ="])


def test_private_executable_evidence_is_a_hash() -> None:
    data = with_private("CT_small.dcm", ELF_HEAD * 4)
    (f,) = active_content.check(from_bytes(data, "ct.dcm"))
    assert (f.severity.value, f.evidence["kind"], f.evidence["vr"], f.evidence["keyword"]) == (
        "critical", "elf", "OB", "private")
    value = data[f.evidence["offset"] + 12: f.evidence["offset"] + 12 + f.evidence["size"]]
    assert value.startswith(ELF_HEAD) and f.evidence["value_sha256"] == hashlib.sha256(value).hexdigest()


def test_c_store_data_set_with_a_private_executable() -> None:
    ds = image()
    ds.private_block(0x0019, "VENDOR X", create=True).add_new(0x10, "OB", PE_STUB + b"\x00" * (len(PE_STUB) % 2))
    (f,) = active_content.check(from_bytes(dataset_bytes(ds), "peer", transfer_syntax="1.2.840.10008.1.2"))
    assert (f.rule, f.evidence["kind"], f.evidence["vr"]) == (RULE, "pe", "implicit")
    assert "Doe" not in str(f.evidence) and "ID-123" not in str(f.evidence)


@pytest.mark.parametrize("name", ["CT_small.dcm", "waveform_ecg.dcm", "UN_sequence.dcm", "test-SR.dcm"])
def test_quiet_on_clean_objects(name: str) -> None:
    assert list(active_content.check(from_bytes(read(name), name))) == []


def test_candidates_are_what_the_prefilter_lets_through() -> None:
    """The one-pass candidate list (first byte first) is exactly: the encapsulated document, and opaque
    (private or binary-VR) values of 4+ bytes that :func:`maybe_dangerous` does not rule out."""
    import random

    from radguard.inspect.magic import maybe_dangerous
    from radguard.range.samples import bundled_files
    from tests.support.corpus import THREATS

    def reference(buf: bytes | memoryview, elements: list) -> list:  # type: ignore[type-arg]
        return [e for e in elements if e.tag == active_content.TAG_ENCAPSULATED_DOCUMENT or (
            ((e.tag >> 16) & 1 or e.vr in ("OB", "UN", "OW", "")) and e.length >= 4
            and maybe_dangerous(bytes(buf[e.value_offset:e.value_offset + 16])))]

    objects = [from_bytes(p.read_bytes(), p.name) for p in bundled_files("*") if p.stat().st_size < 2_000_000]
    objects += [from_bytes(t.build(), t.name) for t in THREATS]
    rng = random.Random(3)
    for prefix in (b"MZ\x90\x00", b"PK\x03\x04", b"<scr", b" \t\r\n", b"%PDF", b"\x7fELF", b"12\\3", bytes(4)):
        data = with_private("CT_small.dcm", prefix + bytes(rng.getrandbits(8) for _ in range(12)))
        objects.append(from_bytes(data, "crafted.dcm"))
    from radguard.dicom import dataset

    compiled = dataset.speedups
    hits = 0
    for obj in objects:
        p = obj.part10
        expected = reference(p.dataset, p.elements)
        for speedups in (compiled, None):  # the compiled path (when built) and the comprehension
            dataset.speedups = speedups
            try:
                got = active_content._candidates(p.dataset, p.elements)
                assert got == expected, obj.target
                assert active_content._candidates(memoryview(bytes(p.dataset)), p.elements) == expected
            finally:
                dataset.speedups = compiled
        hits += len(expected)
    assert hits > 10
    if compiled is not None:  # anything unusual is left to the comprehension (None), never guessed
        el = objects[0].part10.elements[0]
        assert compiled.candidates(b"", [el._replace(length=8)], active_content._FIRST_TABLE,
                                   active_content._TEXT_TABLE, active_content._PREFIX2_TABLE, 0) is None
        assert compiled.candidates(b"", [("x",)], active_content._FIRST_TABLE, active_content._TEXT_TABLE,
                                   active_content._PREFIX2_TABLE, 0) is None
