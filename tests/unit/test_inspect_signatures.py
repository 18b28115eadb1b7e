"""The content signatures are data (src/radguard/inspect/signatures.toml): complete and consistent."""

from __future__ import annotations

from radguard.inspect.magic import _MAGICS, DANGEROUS, KIND_SEVERITY, PDF_TOKENS, ContentKind, classify
from radguard.models import Severity


def test_every_kind_has_a_severity_and_magics_are_unique() -> None:
    assert set(KIND_SEVERITY) == set(ContentKind)
    magics = [m for m, _ in _MAGICS]
    assert len(magics) == len(set(magics)) and all(magics)
    assert all(KIND_SEVERITY[k] >= Severity.HIGH for k in DANGEROUS)


def test_the_table_classifies_real_heads() -> None:
    assert classify(b"MZ\x90\x00" + bytes(12)) is ContentKind.PE
    assert classify(b"\x7fELF\x02\x01\x01" + bytes(9)) is ContentKind.ELF
    assert classify(b"II*\x00" + bytes(12)) is ContentKind.TIFF
    assert classify(b"  <!DOCTYPE html><p>") is ContentKind.HTML
    assert classify(b"#!/bin/sh\nrm -rf /") is ContentKind.SCRIPT


def test_pdf_tokens_worst_first() -> None:
    ranks = [sev.rank for _, sev in PDF_TOKENS]
    assert ranks == sorted(ranks, reverse=True) and PDF_TOKENS[0] == (b"/Launch", Severity.CRITICAL)
