"""The archive object: one file read once, parsed once, handed to every check.

:func:`read_object` reads the bytes (memory-mapped above :data:`MMAP_THRESHOLD`), walks the
Part 10 layout (:mod:`radguard.dicom.part10`, values never decoded) and returns an
:class:`ArchiveObject`. Checks are pure functions of it; they never reopen the file.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import stat
from dataclasses import dataclass, field
from typing import BinaryIO

from radguard.dicom.part10 import Part10, parse

#: files at least this large are memory-mapped instead of read
MMAP_THRESHOLD = 32 * 1024 * 1024

TAG_SOP_CLASS = 0x00080016
TAG_SOP_INSTANCE = 0x00080018
TAG_STUDY = 0x0020000D
TAG_SERIES = 0x0020000E
TAG_ROWS = 0x00280010
TAG_COLUMNS = 0x00280011
TAG_FRAMES = 0x00280008
TAG_SAMPLES = 0x00280002
TAG_PLANAR = 0x00280006
TAG_BITS_ALLOCATED = 0x00280100
TAG_PIXEL_REPRESENTATION = 0x00280103
TAG_ENCAPSULATED_DOCUMENT = 0x00420011
TAG_MIME_TYPE = 0x00420012


@dataclass(slots=True, eq=False)
class ArchiveObject:
    """One file (or bare data set) as the checks see it.

    ``target`` is the path (or the name the caller gave); ``data`` the whole content;
    ``part10`` its layout. ``expect_part10`` is False for data sets received over the network.
    """

    target: str
    data: bytes | memoryview
    part10: Part10
    size: int
    mtime_ns: int | None = None
    expect_part10: bool = True
    _mm: mmap.mmap | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return os.path.basename(self.target)

    def uid(self, tag: int) -> str | None:
        return self.part10.text(tag)

    @property
    def is_dicom(self) -> bool:
        """True when the bytes are a Part 10 file or a recognisable data set."""
        p = self.part10
        return p.has_magic or bool(p.elements)

    def close(self) -> None:
        """Unmap the file if it was memory-mapped (see :func:`close_raw`)."""
        mm, self._mm = self._mm, None
        if mm is not None:
            data, self.data = self.data, b""
            close_raw(data, mm)


def from_bytes(data: bytes | memoryview, target: str, *, transfer_syntax: str | None = None,
               mtime_ns: int | None = None) -> ArchiveObject:
    """An object over bytes already in memory (``transfer_syntax`` for a bare C-STORE data set)."""
    p = parse(data, transfer_syntax=transfer_syntax)
    return ArchiveObject(target=target, data=data, part10=p, size=len(data), mtime_ns=mtime_ns,
                         expect_part10=transfer_syntax is None)


def open_regular(path: str) -> BinaryIO:
    """Open a regular file for reading; anything else (FIFO, device, socket) is an ``OSError``.

    ``O_NONBLOCK`` so that a FIFO swapped in after the walk cannot block the open; the type is
    checked on the open handle, so there is no race with an earlier ``stat``. Callers read at most
    ``st_size`` bytes.
    """
    fd, _st = _open_fd(path)
    return open(fd, "rb", closefd=True)


def _open_fd(path: str) -> tuple[int, os.stat_result]:
    """:func:`open_regular` as a descriptor (the caller closes it) and its ``fstat``."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_raw(path: str) -> tuple[bytes | memoryview, int, mmap.mmap | None]:
    """The bytes of one file (memory-mapped when large), its mtime and the map to close.

    Raises
    ------
    OSError
        If the file cannot be opened or read.
    """
    fd, st = _open_fd(path)  # a descriptor, no file object: fewer system calls (one fstat) per file
    try:
        size = st.st_size
        if size >= MMAP_THRESHOLD:
            mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            return memoryview(mm), st.st_mtime_ns, mm
        data = os.read(fd, size)
        if len(data) < size:  # a short read: on to the size or the end of the file, as a file object reads
            parts = [data]
            got = len(data)
            while got < size and (more := os.read(fd, size - got)):
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        return data, st.st_mtime_ns, None
    finally:
        os.close(fd)


def close_raw(data: bytes | memoryview, mm: mmap.mmap | None) -> None:
    """Release what :func:`read_raw` returned: the view is released and the map closed; if slices of
    the view are still held somewhere, the map goes when they are collected."""
    if mm is None:
        return
    if isinstance(data, memoryview):
        with contextlib.suppress(BufferError):
            data.release()
    with contextlib.suppress(BufferError):
        mm.close()


def object_from_raw(path: str, data: bytes | memoryview, mtime_ns: int, mm: mmap.mmap | None) -> ArchiveObject:
    return ArchiveObject(target=path, data=data, part10=parse(data), size=len(data), mtime_ns=mtime_ns, _mm=mm)


def read_object(path: str) -> ArchiveObject:
    """Read and parse one file once.

    Raises
    ------
    OSError
        If the file cannot be opened or read (the caller turns it into an ``unreadable`` result).
    """
    data, mtime_ns, mm = read_raw(path)
    return object_from_raw(path, data, mtime_ns, mm)
