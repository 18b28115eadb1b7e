"""Streaming walk of archive trees: no list of all paths in memory, no crash on bad entries.

Directory symlinks are not followed (no loops); file symlinks are followed, and a broken or
looping one is reported as an error item. Entries whose name starts with ``.radguard-`` (files
moved aside by ``recover``) are skipped.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

SKIP_PREFIX = ".radguard-"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Item:
    """One file found by the walk: its path and stat, or the error that prevented it."""

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
