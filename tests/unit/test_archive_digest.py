"""Fingerprint internals: the fast paths give exactly what the definitions in docs/archive.md say."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from radguard.archive.digest import Geometry, _bands, header_digests, native_layout
from radguard.dicom import dataset
from radguard.dicom.dataset import Element
from radguard.dicom.part10 import Part10
from radguard.inspect.obj import ArchiveObject, from_bytes
from tests.support.corpus import CLEAN, read


def _reference_col_crcs(raw: bytes, geo: Geometry, dtype: str) -> list[int]:
    """Column-band CRCs by the definition: int64 column sums and row-weighted sums (rows from 1)."""
    arr = np.frombuffer(raw, dtype=dtype).reshape(geo.rows, geo.cols * geo.samples).astype(np.int64)
    weights = np.arange(1, geo.rows + 1, dtype=np.int64)[:, None]
    sums = np.stack([arr.sum(axis=0), (arr * weights).sum(axis=0)], axis=1).reshape(geo.cols, geo.samples * 2)
    return [zlib.crc32(sums[a:b].tobytes()) for a, b in _bands(geo.cols)]


@pytest.mark.parametrize(("rows", "cols", "samples", "bits", "signed"), [
    (350, 80, 1, 8, 0), (64, 40, 3, 8, 0), (300, 48, 1, 16, 0), (128, 32, 1, 16, 1),
    (1024, 8, 1, 32, 0), (1500, 6, 1, 32, 1), (1500, 6, 1, 32, 0),
])
@pytest.mark.parametrize("compiled", [True, False])
def test_column_sums_are_exact_at_extreme_values(rows: int, cols: int, samples: int, bits: int, signed: int,
                                                 compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not compiled:
        monkeypatch.setattr(dataset, "speedups", None)
    elif dataset.speedups is None:
        pytest.skip("radguard.dicom._speedups not built")
    dtype = {8: "u1", 16: "<u2", 32: "<u4"}[bits].replace("u", "i" if signed else "u")
    info = np.iinfo(np.dtype(dtype))
    rng = np.random.default_rng(rows * cols + bits)
    arr = rng.choice(np.array([info.min, info.max, info.max - 1, 0], dtype=dtype), size=rows * cols * samples)
    raw = arr.tobytes()
    geo = Geometry(rows, cols, 1, samples, bits, 0, signed)
    p = Part10(size=len(raw), has_magic=False, preamble=None, dataset=raw)
    obj = ArchiveObject(target="t", data=raw, part10=p, size=len(raw))
    layout = native_layout(obj, Element(0x7FE00010, "OW", 0, 0, len(raw)), geo)
    assert layout is not None
    assert layout["col_band_crc"] == [_reference_col_crcs(raw, geo, dtype)]
    assert layout["frame_crc"] == [zlib.crc32(raw)]


@pytest.mark.parametrize("name", [*CLEAN, "waveform_ecg.dcm"])
def test_remembered_sequence_ends_do_not_change_header_digests(name: str) -> None:
    obj = from_bytes(read(name), name)
    fresh = from_bytes(read(name), name)
    fresh.part10.seq_ends.clear()  # nothing remembered from the parse: every sequence walked again
    assert header_digests(obj) == header_digests(fresh)


def _layout_of(raw: bytes, offset: int, geo: Geometry) -> dict[str, object] | None:
    p = Part10(size=len(raw), has_magic=False, preamble=None, dataset=raw)
    obj = ArchiveObject(target="t", data=raw, part10=p, size=len(raw))
    return native_layout(obj, Element(0x7FE00010, "OW", 0, offset, len(raw) - offset), geo)


@pytest.mark.parametrize(("rows", "cols", "frames", "samples", "bits", "signed", "offset"), [
    (1, 1, 1, 1, 8, 0, 0), (3, 3, 1, 3, 8, 0, 0), (64, 64, 1, 1, 16, 1, 0), (17, 33, 3, 1, 16, 0, 1),
    (40, 24, 2, 3, 8, 1, 3), (1100, 5, 1, 1, 32, 1, 2), (10, 10, 15, 1, 32, 0, 0), (8, 8, 70, 1, 16, 0, 0),
    (250, 300, 1, 1, 16, 0, 0), (5, 7, 2, 1, 32, 0, 1),
])
def test_compiled_layout_equals_python(rows: int, cols: int, frames: int, samples: int, bits: int, signed: int,
                                       offset: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """_speedups.colsums and crc32_combine (the frame CRC from its bands'): the same layout, byte for byte,
    at any address (odd offsets included), with extreme and random samples."""
    if dataset.speedups is None:
        pytest.skip("radguard.dicom._speedups not built")
    geo = Geometry(rows, cols, frames, samples, bits, 0, signed)
    rng = np.random.default_rng(rows * 7 + frames)
    body = rng.integers(0, 256, size=geo.frame_bytes * frames, dtype=np.uint8)
    body[: min(len(body), 64)] = 0xFF  # extreme values: all bits set
    raw = bytes(offset) + body.tobytes() + b"\x00"  # a trailing pad byte: the frames are what is read
    compiled = _layout_of(raw, offset, geo)
    monkeypatch.setattr(dataset, "speedups", None)
    python = _layout_of(raw, offset, geo)
    assert compiled is not None
    assert compiled == python
    fb = geo.frame_bytes
    assert compiled["frame_crc"] == [zlib.crc32(raw[offset + f * fb : offset + (f + 1) * fb]) for f in range(frames)]


def test_crc32_combine_equals_zlib() -> None:
    fast = dataset.speedups
    if fast is None:
        pytest.skip("radguard.dicom._speedups not built")
    rng = np.random.default_rng(5)
    for n1, n2 in [(0, 0), (0, 9), (9, 0), (1, 1), (4095, 4097), (3, 1 << 20), *rng.integers(0, 5000, (20, 2))]:
        a, b = rng.bytes(int(n1)), rng.bytes(int(n2))
        assert fast.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
