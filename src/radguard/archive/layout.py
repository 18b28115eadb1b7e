"""Layout of native pixel data (the ledger's ``layout`` field, docs/archive.md): per frame a CRC-32, and per
frame up to :data:`BANDS` row-band and column-band checksums, used only to locate a change (frame, bounding
box), never to prove integrity. Part of :mod:`radguard.archive.digest` (which re-exports these names).
"""

from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass
from typing import Any

from radguard.dicom import dataset
from radguard.dicom.dataset import Element
from radguard.inspect.obj import (
    TAG_BITS_ALLOCATED,
    TAG_COLUMNS,
    TAG_FRAMES,
    TAG_PIXEL_REPRESENTATION,
    TAG_PLANAR,
    TAG_ROWS,
    TAG_SAMPLES,
    ArchiveObject,
)

#: number of row bands and column bands per frame for change localisation
BANDS = 16
#: frames beyond which only per-frame checksums are kept (bounded ledger size)
MAX_BANDED_FRAMES = 64
NATIVE_DTYPES = {(8, 0): "u1", (8, 1): "i1", (16, 0): "<u2", (16, 1): "<i2", (32, 0): "<u4", (32, 1): "<i4"}


@dataclass(frozen=True, slots=True)
class Geometry:
    rows: int
    cols: int
    frames: int
    samples: int
    bits: int
    planar: int
    signed: int

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.cols * self.samples * self.bits // 8


def geometry(obj: ArchiveObject) -> Geometry | None:
    """Pixel geometry from the header (PS3.3 C.7.6.3), or None when incomplete."""
    p = obj.part10
    rows, cols = p.ushort(TAG_ROWS), p.ushort(TAG_COLUMNS)
    bits = p.ushort(TAG_BITS_ALLOCATED)
    if not rows or not cols or not bits:
        return None
    frames_txt = p.text(TAG_FRAMES)
    try:
        frames = int(frames_txt) if frames_txt else 1
    except ValueError:
        frames = 1
    return Geometry(rows, cols, max(frames, 1), p.ushort(TAG_SAMPLES) or 1, bits, p.ushort(TAG_PLANAR) or 0,
                    p.ushort(TAG_PIXEL_REPRESENTATION) or 0)


def _bands(n: int) -> list[tuple[int, int]]:
    step = max(1, -(-n // BANDS))
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def native_layout(obj: ArchiveObject, pixel: Element, geo: Geometry) -> dict[str, Any] | None:
    """Per-frame CRC-32 and band checksums of native (uncompressed, little endian) pixel data."""
    dtype = NATIVE_DTYPES.get((geo.bits, geo.signed))
    fb = geo.frame_bytes
    if dtype is None or fb == 0 or pixel.length < fb * geo.frames or not obj.part10.little:
        return None
    buf = obj.part10.dataset
    base = pixel.value_offset
    frames: list[int] = []
    row_bands: list[list[int]] = []
    col_bands: list[list[int]] = []
    banded = geo.frames <= MAX_BANDED_FRAMES and (geo.samples == 1 or geo.planar == 0)
    rb = _bands(geo.rows)
    cb = _bands(geo.cols)
    row_bytes = geo.cols * geo.samples * geo.bits // 8
    fast = dataset.speedups if sys.byteorder == "little" else None  # (the compiled one reads host order)
    sums_of = _col_sums_numpy(geo, dtype) if banded and fast is None else bytes
    width = geo.cols * geo.samples
    crc32 = zlib.crc32
    col_bytes = geo.samples * 16  # a column's sums: 2 int64 per sample
    mv = memoryview(buf) if isinstance(buf, bytes) else buf
    for f in range(geo.frames):
        view = mv[base + f * fb : base + (f + 1) * fb]
        if not banded:
            frames.append(crc32(view))
            continue
        bands = [crc32(view[a * row_bytes : b * row_bytes]) for a, b in rb]
        row_bands.append(bands)
        if fast is None:
            frames.append(crc32(view))
        else:  # the bands cover the frame: its CRC from theirs, the frame not read again
            crc = bands[0]
            for (a, b), band in zip(rb[1:], bands[1:], strict=True):
                crc = fast.crc32_combine(crc, band, (b - a) * row_bytes)
            frames.append(crc)
        # compiled: the same int64 bytes (tests/unit/test_archive_digest.py)
        sums = sums_of(view) if fast is None else fast.colsums(view, geo.rows, width, geo.bits, geo.signed)
        col_bands.append([crc32(sums[a * col_bytes : b * col_bytes]) for a, b in cb])
    return {
        "rows": geo.rows, "cols": geo.cols, "frames": geo.frames, "samples": geo.samples, "bits": geo.bits,
        "frame_crc": frames, "row_bands": rb if banded else [], "col_bands": cb if banded else [],
        "row_band_crc": row_bands, "col_band_crc": col_bands,
    }


def _col_sums_numpy(geo: Geometry, dtype: str) -> Any:
    """Python twin of ``_speedups.colsums``: per column the sum and the row-weighted sum (rows numbered from 1)
    of a frame's samples as int64, interleaved, in bytes."""
    import numpy as np

    # In float64 (one BLAS product) they are exact while every partial sum stays below 2**53: always for
    # 8/16-bit samples (rows <= 65535), for 32-bit ones up to 1024 rows; beyond that, integer arithmetic.
    exact_float = geo.bits <= 16 or geo.rows <= 1024
    weights = np.stack([np.ones(geo.rows), np.arange(1, geo.rows + 1, dtype=np.float64)])
    width = geo.cols * geo.samples

    def sums(view: bytes | memoryview) -> bytes:
        arr = np.frombuffer(view, dtype=dtype).reshape(geo.rows, width)
        if exact_float:
            s12 = (weights @ arr.astype(np.float64)).astype(np.int64)
        else:
            s12 = weights.astype(np.int64) @ arr.astype(np.int64)
        return np.ascontiguousarray(s12.T).tobytes()

    return sums
