"""radguard.inspect.obj.read_raw: the whole file (read or mapped), only regular files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from radguard.inspect import obj
from radguard.inspect.obj import close_raw, read_raw


@pytest.mark.parametrize("size", [0, 1, 4096, 70000, 1 << 20])
@pytest.mark.parametrize("mapped", [False, True])
def test_read_raw_gives_every_byte(tmp_path: Path, size: int, mapped: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if mapped:
        monkeypatch.setattr(obj, "MMAP_THRESHOLD", 1)
    path = tmp_path / "f.dcm"
    content = os.urandom(size)
    path.write_bytes(content)
    data, mtime_ns, mm = read_raw(str(path))
    assert bytes(data) == content
    assert mtime_ns == path.stat().st_mtime_ns
    assert (mm is not None) == (mapped and size > 0)
    close_raw(data, mm)


def test_read_raw_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        read_raw(str(fifo))  # O_NONBLOCK: no writer, yet no hang
    with pytest.raises(OSError, match="not a regular file"):
        read_raw(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        read_raw(str(tmp_path / "absent"))
