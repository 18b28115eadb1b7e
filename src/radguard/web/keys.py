"""The console's session key: made on first start, kept in the data directory, never built in."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from radguard.errors import UsageError

KEY_FILE = "web-session.key"
KEY_BYTES = 32


def load_or_create_key(data_dir: Path) -> bytes:
    """Read ``<data_dir>/web-session.key`` or create it (32 random bytes, mode 0600, directory 0700).

    Raises
    ------
    UsageError
        If the key file is readable by others than its owner, or malformed.
    """
    path = data_dir / KEY_FILE
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(KEY_BYTES) + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UsageError(f"{path} is readable by others (mode {mode:04o}): chmod 600 it or delete it to make a new one")
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise UsageError(f"{path} is not a radguard session key (delete it to make a new one)") from None
    if len(key) < KEY_BYTES:
        raise UsageError(f"{path} is too short (delete it to make a new one)")
    return key
