"""Fuzz target ``part10``: the Part 10 reader and the object checks every producer runs on it.

Input: one byte of mode, then the bytes. Mode 0: a Part 10 file (what ``radguard audit``/``seal`` and
``radguard inspect`` read); mode 1-5: a bare data set in one of ``common.TRANSFER_SYNTAXES`` (what the
gateway receives in a C-STORE and inspects before forwarding).

Crash: :func:`radguard.dicom.part10.parse`, the :class:`Part10` accessors, the inspection checks
(:func:`radguard.inspect.api.inspect_bytes` / ``inspect_dataset``) or the gateway's audit identifiers raise
anything (none of them raises on hostile input: a bad file is a finding); a finding that is not JSON.
"""

from __future__ import annotations

import json

import atheris

import common

with atheris.instrument_imports(include=["radguard"]):
    from radguard.dicom.part10 import parse
    from radguard.gateway.dataset import identifiers, identifiers_from
    from radguard.inspect.api import inspect_bytes, inspect_dataset

#: attributes read by the producers (SOP class/instance, transfer syntax, patient and study ids, rows)
TAGS = (0x00020002, 0x00020003, 0x00020010, 0x00080016, 0x00080018, 0x00100020, 0x0020000D, 0x00280010)


def test_one(data: bytes) -> None:
    if not data:
        return
    mode, buf = data[0] % (1 + len(common.TRANSFER_SYNTAXES)), data[1:]
    ts = None if mode == 0 else common.TRANSFER_SYNTAXES[mode - 1]
    p = parse(buf, transfer_syntax=ts)
    p.pixel  # noqa: B018 - the property is what is fuzzed
    for tag in TAGS:
        p.text(tag)
        p.ushort(tag)
    for element in p.elements[:64]:
        p.value(element.tag)
    findings = inspect_bytes(buf, "fuzz") if ts is None else inspect_dataset(buf, ts, "fuzz")
    json.dumps([(f.rule, f.title, f.target, dict(f.evidence)) for f in findings])
    if ts is not None:
        identifiers(buf, ts)
        identifiers_from(p)


if __name__ == "__main__":
    common.main(test_one)
