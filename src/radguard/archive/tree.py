"""Streaming walk of archive trees: no list of all paths in memory, no crash on bad entries.

Directory symlinks are not followed (no loops); file symlinks are followed, and a broken or
looping one is reported as an error item. Entries whose name starts with ``.radguard-`` (files
moved aside by ``recover``) are skipped.
"""

from __future__ import annotations

import errno
import os
import stat
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from itertools import islice
from typing import NamedTuple, TypeVar

SKIP_PREFIX = ".radguard-"
T = TypeVar("T")


class Item(NamedTuple):
    """One file found by the walk: its path and stat, or the error that prevented it (a tuple: one is made
    per file, and a frozen dataclass costs a microsecond more to build)."""

    path: str
    size: int = 0
    mtime_ns: int = 0
    error: OSError | None = None


def iter_files(root: str) -> Iterator[Item]:
    """Regular files under ``root`` (or ``root`` itself if a file), depth first, sorted per directory."""
    try:
        st = os.stat(root)
    except OSError as exc:
        yield Item(root, error=exc)
        return
    if not os.path.isdir(root):
        if stat.S_ISREG(st.st_mode):
            yield Item(root, st.st_size, st.st_mtime_ns)
        else:
            yield Item(root, error=OSError(errno.EINVAL, "not a regular file"))
        return
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield Item(d, error=exc)
            continue
        subdirs: list[str] = []
        for e in entries:
            if e.name.startswith(SKIP_PREFIX):
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    subdirs.append(e.path)
                    continue
                if e.is_symlink():
                    if os.path.isdir(e.path):
                        continue  # directory symlinks are not followed
                    st = os.stat(e.path)  # raises on broken links and loops
                    if not stat.S_ISREG(st.st_mode):
                        # a link to /dev/zero, a FIFO or a socket: never opened (it would never end)
                        yield Item(e.path, error=OSError(errno.EINVAL, "not a regular file (symlink target)"))
                        continue
                elif e.is_file(follow_symlinks=False):
                    st = e.stat(follow_symlinks=False)
                else:
                    continue  # sockets, fifos, devices
            except OSError as exc:
                yield Item(e.path, error=exc)
                continue
            yield Item(e.path, st.st_size, st.st_mtime_ns)
        stack.extend(reversed(subdirs))


def batched(it: Iterator[T], n: int) -> Iterator[list[T]]:
    while True:
        chunk = list(islice(it, n))
        if not chunk:
            return
        yield chunk


def normalize(path: str) -> str:
    """Absolute, normalised path (symlinks in the path kept as given)."""
    return os.path.normpath(os.path.abspath(path))


class PathSet:
    """The paths a walk saw, 8 bytes each (the interpreter's 64-bit hash of the path, stable within one
    process) instead of a set of strings.

    Two paths share a hash with probability about n²/2⁶⁵ (1e-8 for a million paths); the one use,
    :meth:`radguard.archive.ledger.Ledger.drop_unseen`, then keeps an entry whose file is gone, which
    ``audit`` reports as missing: an error on the safe side. Not to be carried to another process.
    """

    def __init__(self) -> None:
        self._hashes = array("q")
        self._sorted: list[int] | None = None

    def add(self, path: str) -> None:
        self._hashes.append(hash(path))
        self._sorted = None

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        if self._sorted is None:
            self._sorted = sorted(self._hashes)
        h = hash(path)
        i = bisect_left(self._sorted, h)
        return i < len(self._sorted) and self._sorted[i] == h
