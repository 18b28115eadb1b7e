"""Fuzz target ``dataset``: the one data-set walker, compiled (``radguard.dicom._speedups``) against Python.

Input: one byte of mode, then the bytes, as for ``part10`` (mode 0: a Part 10 file, 1-5: a bare data set
in one of ``common.TRANSFER_SYNTAXES``).

Crash: the compiled walk and the pure-Python walk disagree on anything (the Part 10 layout: meta,
elements and their offsets, the issue that stopped the walk, the trailing offset, the inflated data set;
the per-element header digests and the canonical header hash of :mod:`radguard.archive.digest`, errors
included), over ``bytes`` or a ``memoryview`` (mmap'ed files); the lenient walk
(:func:`radguard.dicom.dataset.walk`, the monitor) or :func:`~radguard.dicom.dataset.find` (the gateway)
raises. Only the Python side is coverage-instrumented (the C code is not built with libFuzzer's
instrumentation): the fuzzer steers by the Python walk's branches, which mirror the compiled one's.
"""

from __future__ import annotations

from typing import Any

import atheris

import common

with atheris.instrument_imports(include=["radguard"]):
    from radguard.archive.digest import header_digests
    from radguard.dicom import dataset
    from radguard.inspect.obj import from_bytes

COMPILED = dataset.speedups
if COMPILED is None:
    raise SystemExit("fuzz_dataset: radguard.dicom._speedups is not built (or RADGUARD_NO_SPEEDUPS is set)")
WANTED = frozenset({0x00100020, 0x0020000D})


def _outcome(data: bytes | memoryview, ts: str | None, compiled: bool) -> tuple[Any, ...]:
    dataset.speedups = COMPILED if compiled else None
    try:
        obj = from_bytes(data, "fuzz", transfer_syntax=ts)
        p = obj.part10
        layout = (p.size, p.has_magic, p.preamble, p.meta, p.meta_end, str(p.transfer_syntax), p.explicit, p.little,
                  p.deflated, p.bare, p.vr_mismatch, p.elements, p.issue, p.trailing_offset, bytes(p.dataset))
        try:
            digests: Any = header_digests(obj) if obj.is_dicom else None
        except Exception as exc:  # both implementations must fail alike, if at all
            digests = ("error", type(exc).__name__)
        return layout, digests
    finally:
        dataset.speedups = COMPILED


def test_one(data: bytes) -> None:
    if not data:
        return
    mode, buf = data[0] % (1 + len(common.TRANSFER_SYNTAXES)), data[1:]
    ts = None if mode == 0 else common.TRANSFER_SYNTAXES[mode - 1]
    slow = _outcome(buf, ts, compiled=False)
    assert _outcome(buf, ts, compiled=True) == slow, "compiled and Python walks differ"
    assert _outcome(memoryview(buf), ts, compiled=True) == slow, "compiled walk differs on a memoryview"
    for implicit in (True, False):
        for little in (True, False):
            dataset.walk(buf, implicit=implicit, little=little)
            dataset.find(buf, WANTED, implicit=implicit, little=little)


if __name__ == "__main__":
    common.main(test_one)
