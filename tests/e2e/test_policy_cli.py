"""``radguard policy learn|replay|diff`` as a user runs them: the CLI contract on bad input (one line, exit 2,
never a silent empty policy) and help that imports nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cli import radguard, usage_error

EMPTY_PCAP = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")
HEAVY = ("pydicom", "pynetdicom", "sqlalchemy", "numpy", "cryptography")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "empty.pcap").write_bytes(EMPTY_PCAP)
    (tmp_path / "bad.toml").write_text("[gateway\nlisten = 1\n")
    (tmp_path / "wrong.toml").write_text('[gateway]\nlisten = "127.0.0.1:0"\nupstream = "127.0.0.1:104"\n'
                                         'upstream_ae = "PACS"\nae_title = "GW"\n[[peer]]\nae = "CT01"\n'
                                         'hosts = ["127.0.0.1"]\nallow = ["C-STORE"]\nsop_classes = ["CT"]\n')
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00\x01" * 10)
    return {p.stem: p for p in tmp_path.iterdir()}


@pytest.mark.parametrize(("args", "message"), [
    (["policy", "learn", "{empty}", "--json"], "no DICOM association in"),
    (["policy", "learn", "--json"], "give capture files"),
    (["policy", "learn", "{empty}", "--from-store"], "not both"),
    (["policy", "learn", "--from-store", "--json"], "no DICOM association in the store"),
    (["policy", "learn", "{empty}", "--listen", "pacs:104"], "--listen must be IP:PORT"),
    (["policy", "learn", "{empty}", "--min-associations", "0"], "--min-associations"),
    (["policy", "replay", "{empty}", "--config", "{bad}", "--json"], "invalid TOML"),
    (["policy", "replay", "{empty}", "--config", "{wrong}", "--json"], "sop_classes: not a UID"),
    (["policy", "replay", "{empty}", "--config", "{binary}"], "not a text file"),
    (["policy", "diff", "--config", "{wrong}", "{empty}"], "sop_classes"),
])
def test_bad_input_is_one_line_and_exit_2(files: dict[str, Path], args: list[str], message: str) -> None:
    argv = [a.format(**files) for a in args]
    line = usage_error(radguard(argv))
    assert message in line, line


def test_help_imports_nothing_heavy() -> None:
    code = ("import sys, json\nfrom radguard.cli.main import main\nout = {}\n"
            "for cmd in ('policy', 'policy learn', 'policy replay', 'policy diff'):\n"
            "    rc = main([*cmd.split(), '--help'])\n"
            f"    out[cmd] = [rc, sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})]\n"
            "sys.stderr.write(json.dumps(out))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert {k: v for k, v in json.loads(proc.stderr).items() if v != [0, []]} == {}
