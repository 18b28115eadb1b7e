"""The compiled fast paths (radguard.dicom._speedups) give byte-identical results to the pure-Python code.

Both implementations run over the bundled pydicom files, the threat corpus, hand-built nested
sequences (past both depth limits) and hypothesis-mutated/truncated inputs; the Part 10 layout
(elements, issue, trailing offset...) and the header digests must be equal, errors included.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radguard.archive.digest import header_digests
from radguard.dicom import dataset
from radguard.dicom.dataset import LONG_VRS, Element, walk_dataset
from radguard.dicom.part10 import Part10, parse
from radguard.dicom.uids import TransferSyntax
from radguard.inspect.obj import from_bytes
from radguard.range.samples import bundled_files
from tests.support.corpus import THREATS

try:  # the compiled module itself, whatever RADGUARD_NO_SPEEDUPS says
    from radguard.dicom import _speedups as COMPILED
except ImportError:
    COMPILED = None
pytestmark = pytest.mark.skipif(COMPILED is None, reason="radguard.dicom._speedups not built (pure-Python install)")


@contextmanager
def _mode(compiled: bool) -> Iterator[None]:
    saved = dataset.speedups
    dataset.speedups = COMPILED if compiled else None
    try:
        yield
    finally:
        dataset.speedups = saved


def _layout(p: Part10) -> tuple[Any, ...]:
    assert all(type(e) is Element for e in p.elements)
    return (p.size, p.has_magic, p.preamble, p.meta, p.meta_end, str(p.transfer_syntax), p.explicit, p.little,
            p.deflated, p.bare, p.vr_mismatch, p.elements, p.issue, p.trailing_offset, bytes(p.dataset))


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", fn())
    except Exception as exc:  # both implementations must fail the same way, if at all
        return ("error", type(exc).__name__)


def _run(data: bytes, transfer_syntax: str | None) -> tuple[Any, Any]:
    obj = from_bytes(data, "t", transfer_syntax=transfer_syntax)
    digests = _outcome(lambda: header_digests(obj)) if obj.is_dicom else None
    return _layout(obj.part10), digests


def assert_same(data: bytes, transfer_syntax: str | None = None) -> None:
    with _mode(True):
        fast = _run(data, transfer_syntax)
        fast_mv = _run(memoryview(data), transfer_syntax)  # mmap'ed files arrive as memoryviews
    with _mode(False):
        slow = _run(data, transfer_syntax)
    assert fast == slow
    assert fast_mv == slow


@cache
def _bundled() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in bundled_files("*") if p.stat().st_size < 4_000_000}


def test_speedups_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RADGUARD_NO_SPEEDUPS", raising=False)
    assert dataset._load_speedups() is COMPILED


def test_switch_forces_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADGUARD_NO_SPEEDUPS", "1")
    assert dataset._load_speedups() is None


def test_bundled_files_identical() -> None:
    files = _bundled()
    assert len(files) > 50
    for data in files.values():
        assert_same(data)


def test_bundled_files_as_bare_datasets() -> None:
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm", "JPEG2000.dcm"):
        p = parse(_bundled()[name])
        body = bytes(p.dataset[p.meta_end :])
        for ts in TransferSyntax:
            assert_same(body, str(ts))
        assert_same(body)  # encoding guessed


def test_file_meta_cut_anywhere_identical() -> None:
    data = _bundled()["CT_small.dcm"]
    meta_end = parse(data).meta_end
    for cut in range(128, meta_end + 24):
        assert_same(data[:cut])
    # undefined and overlong file meta lengths (PS3.10 §7.1: group 0002 has defined lengths)
    first = _el(0x00020001, "OB", b"\0\1", True)
    for length in (0xFFFFFFFF, 0x7FFFFFFF, 3):
        bad = first[:8] + struct.pack("<I", length) + first[12:]
        assert_same(data[:132] + bad + data[132:])


@pytest.mark.parametrize("threat", THREATS, ids=lambda t: t.name)
def test_threat_corpus_identical(threat: Any) -> None:
    assert_same(threat.build())


def _el(tag: int, vr: str, value: bytes, explicit: bool, undefined: bool = False, big: bool = False) -> bytes:
    order = ">" if big else "<"
    length = 0xFFFFFFFF if undefined else len(value)
    head = struct.pack(order + "HH", tag >> 16, tag & 0xFFFF)
    if not explicit:
        return head + struct.pack(order + "I", length) + value
    if vr in LONG_VRS:
        return head + vr.encode() + b"\0\0" + struct.pack(order + "I", length) + value
    return head + vr.encode() + struct.pack(order + "H", length) + value


def _item(body: bytes, undefined: bool, big: bool = False) -> bytes:
    order = ">HHI" if big else "<HHI"
    if undefined:
        return struct.pack(order, 0xFFFE, 0xE000, 0xFFFFFFFF) + body + struct.pack(order, 0xFFFE, 0xE00D, 0)
    return struct.pack(order, 0xFFFE, 0xE000, len(body)) + body


def _nested(depth: int, explicit: bool, undefined: bool, vr: str = "SQ", mixed: bool = False,
            big: bool = False) -> bytes:
    """A data set whose sequence (0040,0275) nests ``depth`` levels, one text and one US element per item."""
    inner = _el(0x00100020, "LO", b"ID42", explicit, big=big) + _el(0x00280010, "US", b"\1\2", explicit, big=big)
    for level in range(depth):
        items = _item(inner, undefined and not (mixed and level % 3 == 0), big) + \
            _item(_el(0x00100020, "LO", b"ID%02d" % level, explicit, big=big), undefined, big)
        seq = items + (struct.pack(">HHI" if big else "<HHI", 0xFFFE, 0xE0DD, 0) if undefined else b"")
        inner = _el(0x00080100, "SH", b"CODE" + bytes([65 + level % 26]) + b" ", explicit, big=big) + \
            _el(0x00400275, vr, seq, explicit, undefined, big)
    return _el(0x00080016, "UI", b"1.2.3\0", explicit, big=big) + inner + \
        _el(0x7FE00010, "OW", b"\1\2\3\4", explicit, big=big)


@pytest.mark.parametrize("depth", [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40])
@pytest.mark.parametrize(("undefined", "mixed"), [(False, False), (True, False), (True, True)])
def test_nested_sequences_identical(depth: int, undefined: bool, mixed: bool) -> None:
    ts_for = {True: TransferSyntax.EXPLICIT_LE, False: TransferSyntax.IMPLICIT_LE}
    for explicit in (True, False):
        data = _nested(depth, explicit, undefined, mixed=mixed)
        assert_same(data, str(ts_for[explicit]))
        for cut in (len(data) - 3, len(data) // 2, len(data) // 3):
            assert_same(data[:cut], str(ts_for[explicit]))
    assert_same(_nested(depth, True, undefined, "UN"), str(TransferSyntax.EXPLICIT_LE))
    big = _nested(depth, True, undefined, mixed=mixed, big=True)
    for cut in (len(big), len(big) - 3, len(big) // 2):
        assert_same(big[:cut], str(TransferSyntax.EXPLICIT_BE))
    assert_same(_nested(depth, True, undefined, "UN", big=True), str(TransferSyntax.EXPLICIT_BE))


def _handmade() -> list[tuple[str, bytes]]:
    ui = _el(0x00080016, "UI", b"1.2.3\0", True)
    short_item = _item(_el(0x00100020, "LO", b"ID42", True), False)
    short_item = short_item[:4] + struct.pack("<I", 4) + short_item[8:]  # item shorter than its element
    return [
        ("odd-length", ui + _el(0x00100010, "PN", b"ABC", True) + _el(0x00100020, "LO", b"ID", True)),
        ("odd-length-un", ui + _el(0x00091001, "UN", b"ABC", True) + _el(0x00100020, "LO", b"ID", True)),
        ("item-overrun", ui + _el(0x00400275, "SQ", short_item, True) + _el(0x00400280, "ST", b"ok", True)),
        ("undefined-ut", ui + _el(0x00100020, "UT", b"", True, undefined=True)),
        ("undefined-ob", ui + _el(0x00091010, "OB", _item(b"abcd", False) + bytes.fromhex("feffdde000000000"),
                                  True, undefined=True)),
        ("undefined-un", ui + _el(0x00091010, "UN", _item(_el(0x00100020, "LO", b"ID42", False), True)
                                  + bytes.fromhex("feffdde000000000"), True, undefined=True)),
        ("out-of-order", ui + _el(0x00100020, "LO", b"ID", True) + _el(0x00100010, "PN", b"AB", True)),
        ("meta-inside", ui + _el(0x00020010, "UI", b"1.2\0", True)),
        ("meta-after-group-0", _el(0x00000000, "UL", bytes(4), True) + _el(0x00020010, "UI", b"1.2\0", True)),
        ("item-at-top", ui + _item(b"", False)),
        ("bad-vr", ui + b"\x10\x00\x10\x00zz\x02\x00AB"),
        ("long-header-cut", ui + b"\x10\x00\x10\x00OB\x00\x00\x04"),
        ("zip-after", ui + b"PK\x03\x04" + bytes(20)),
        ("stray", ui + b"\x01\x02\x03"),
    ]


def _sequence_defects(big: bool) -> list[bytes]:
    ui = _el(0x00080016, "UI", b"1.2.3\0", True, big=big)
    lo = _el(0x00100020, "LO", b"ID42", True, big=big)
    us = _el(0x00280010, "US", b"\1\2", True, big=big)
    end = struct.pack(">HHI" if big else "<HHI", 0xFFFE, 0xE0DD, 0)
    return [
        ui + _el(0x00400275, "SQ", lo, True, big=big),  # an element where an item belongs
        ui + _el(0x00400275, "SQ", lo + end, True, undefined=True, big=big),
        ui + _el(0x00400275, "SQ", _item(lo, False, big) + us, True, big=big),
        ui + _el(0x00400275, "SQ", _item(lo + end, True, big) + _item(us, False, big), True, big=big),
        ui + _el(0x00400275, "SQ", _item(lo, True, big)[:-8] + end, True, undefined=True, big=big),
        ui + _el(0x00400275, "SQ", struct.pack(">HHI" if big else "<HHI", 0xFFFE, 0xE00D, 0), True, big=big) + lo,
    ]


@pytest.mark.parametrize("big", [False, True])
def test_sequence_defects_identical(big: bool) -> None:
    ts = TransferSyntax.EXPLICIT_BE if big else TransferSyntax.EXPLICIT_LE
    for data in _sequence_defects(big):
        assert_same(data, str(ts))
        assert_same(data)


@pytest.mark.parametrize(("name", "data"), _handmade(), ids=[n for n, _ in _handmade()])
def test_handmade_edge_cases_identical(name: str, data: bytes) -> None:
    assert_same(data, str(TransferSyntax.EXPLICIT_LE))
    assert_same(data)
    for cut in range(len(data) - 12, len(data)):
        assert_same(data[:cut], str(TransferSyntax.EXPLICIT_LE))


SEEDS = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtstruct.dcm", "rtdose.dcm", "JPEG2000.dcm",
         "ExplVR_BigEnd.dcm", "liver.dcm", "emri_small_jpeg_2k_lossless.dcm", "SC_rgb_small_odd.dcm")


def _seed(name: str) -> bytes:
    files = _bundled()
    return files.get(name) or files["CT_small.dcm"]


_edit = st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=4))


@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(SEEDS), edits=st.lists(_edit, max_size=5), cut=st.none() | st.floats(0, 1))
def test_mutated_files_identical(name: str, edits: list[tuple[float, bytes]], cut: float | None) -> None:
    data = bytearray(_seed(name))
    for where, new in edits:
        at = int(where * (len(data) - 1))
        data[at : at + len(new)] = new
    if cut is not None:
        data = data[: int(cut * len(data))]
    assert_same(bytes(data))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(depth=st.integers(1, 20), explicit=st.booleans(), undefined=st.booleans(), big=st.booleans(),
       edits=st.lists(_edit, min_size=1, max_size=3), cut=st.none() | st.floats(0, 1))
def test_mutated_sequences_identical(depth: int, explicit: bool, undefined: bool, big: bool,
                                     edits: list[tuple[float, bytes]], cut: float | None) -> None:
    big = big and explicit  # no implicit VR big endian transfer syntax
    data = bytearray(_nested(depth, explicit, undefined, big=big))
    for where, new in edits:
        at = int(where * (len(data) - 1))
        data[at : at + len(new)] = new
    if cut is not None:
        data = data[: int(cut * len(data))]
    ts = TransferSyntax.EXPLICIT_BE if big else TransferSyntax.EXPLICIT_LE if explicit else TransferSyntax.IMPLICIT_LE
    assert_same(bytes(data), str(ts))
    if big:
        assert_same(bytes(data))  # encoding guessed


@settings(max_examples=200, deadline=None, derandomize=True)
@given(name=st.sampled_from(SEEDS), start=st.floats(0, 1), explicit=st.booleans(), little=st.booleans())
def test_walk_anywhere_identical(name: str, start: float, explicit: bool, little: bool) -> None:
    """walk_dataset from any offset, in any encoding (big endian and misaligned walks included)."""
    data = _seed(name)[:20000]
    pos = int(start * len(data))
    with _mode(True):
        fast = walk_dataset(data, pos, explicit, little)
    with _mode(False):
        slow = walk_dataset(data, pos, explicit, little)
    assert fast == slow


def test_random_bytes_never_crash() -> None:
    import random

    rng = random.Random(7)
    for _ in range(300):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 600)))
        assert_same(data)
        assert_same(data, str(TransferSyntax.IMPLICIT_LE))
        assert_same(b"\x08\x00\x16\x00" + data, str(TransferSyntax.EXPLICIT_LE))


# ---- find (the gateway's audit identifiers): the compiled seek steps over what the loop would ----------
_FIND_TAGS = (frozenset({0x00100020, 0x0020000D}), frozenset({0x00100020}), frozenset({0x00080016, 0x00100010}),
              frozenset({0x7FE00010}))


def assert_same_find(data: bytes) -> None:
    for tags in _FIND_TAGS:
        for implicit in (False, True):
            for little in (True, False):
                run = functools.partial(dataset.find, data, tags, implicit=implicit, little=little)
                with _mode(True):
                    fast = _outcome(run)
                with _mode(False):
                    slow = _outcome(run)
                assert fast == slow, (sorted(tags), implicit, little)


def test_find_identical_on_bare_datasets_and_edge_cases() -> None:
    for name in SEEDS:
        p = parse(_seed(name))
        body = bytes(p.dataset[p.meta_end :]) if not p.bare else bytes(p.dataset)
        assert_same_find(body)
        for cut in range(0, min(len(body), 600), 7):  # captured heads cut anywhere
            assert_same_find(body[:cut])
    for _name, data in _handmade():
        assert_same_find(data)
        assert_same_find(data[:-3])
    for big in (False, True):
        for data in _sequence_defects(big):
            assert_same_find(data)
    for undefined in (False, True):
        assert_same_find(_nested(3, True, undefined) + _el(0x0020000D, "UI", b"1.2\0", True))
        assert_same_find(_nested(3, False, undefined) + _el(0x0020000D, "UI", b"1.2\0", False))
    # a wanted tag again after a larger one (out of order): the later value wins, as in the loop
    ui = _el(0x00080016, "UI", b"1.2.3\0", True)
    twice = ui + _el(0x00100020, "LO", b"ID", True) + _el(0x00100030, "DA", b"20200101", True) + \
        _el(0x00100020, "LO", b"XY", True) + _el(0x0020000D, "UI", b"1.2\0", True)
    assert_same_find(twice)
    with _mode(True):
        assert dataset.find(twice, _FIND_TAGS[0], implicit=False) == {0x00100020: b"XY", 0x0020000D: b"1.2\0"}


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(SEEDS), edits=st.lists(_edit, max_size=5), cut=st.none() | st.floats(0, 1))
def test_find_mutated_identical(name: str, edits: list[tuple[float, bytes]], cut: float | None) -> None:
    p = parse(_seed(name))
    data = bytearray(p.dataset[p.meta_end :] if not p.bare else p.dataset)
    for where, new in edits:
        at = int(where * (len(data) - 1))
        data[at : at + len(new)] = new
    if cut is not None:
        data = data[: int(cut * len(data))]
    assert_same_find(bytes(data))


def test_find_counts_one_parse() -> None:
    body = _seed("CT_small.dcm")
    before = dataset.parse_count()
    with _mode(True):
        dataset.find(body, _FIND_TAGS[0], implicit=False)
    assert dataset.parse_count() == before + 1
