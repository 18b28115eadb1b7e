"""Fuzz target ``config``: the gateway's configuration loader (:func:`radguard.gateway.config.load_config`).

Input: the bytes of a ``gateway.toml`` (written to a file in a private temporary directory, which is
also the base of relative paths), read as ``radguard gateway --config`` and ``--check`` read it.

Crash: anything raised but :class:`radguard.errors.ConfigError` (the documented error: one line naming
the key, exit 2 from the CLI); a ConfigError message spanning lines.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import atheris

import common

with atheris.instrument_imports(include=["radguard"]):
    from radguard.errors import ConfigError
    from radguard.gateway.config import load_config

WORKDIR = Path(tempfile.mkdtemp(prefix="radguard-fuzz-config-"))
PATH = WORKDIR / "gateway.toml"
os.environ["HOME"] = str(WORKDIR)  # "~" in a path expands inside the temporary directory


def test_one(data: bytes) -> None:
    PATH.write_bytes(data)
    try:
        load_config(PATH)
    except ConfigError as exc:
        assert "\n" not in str(exc).strip(), "a ConfigError message spans lines"


if __name__ == "__main__":
    common.main(test_one)
