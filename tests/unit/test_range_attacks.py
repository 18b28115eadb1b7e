"""The attack library's descriptions and the CLI's refusals (no range needed)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from radguard.errors import UsageError
from radguard.range.attacks import NAMES, library, load
from radguard.range.attacks.kit import LAYERS

ATTACK_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


def test_library_has_at_least_20_described_attacks() -> None:
    attacks = library()
    assert len(attacks) >= 20
    assert len({a.name for a in attacks}) == len(attacks)
    for a in attacks:
        assert a.attack_ids and all(ATTACK_ID.match(t) for t in a.attack_ids), a.name
        assert set(a.layers) <= set(LAYERS), a.name
        assert a.precondition and a.objective and a.title
        assert a.name == NAMES[attacks.index(a)].replace("_", "-")
        assert a.run.__module__ == f"radguard.range.attacks.{a.name.replace('-', '_')}"


def test_attacks_load_by_dashed_or_module_name() -> None:
    assert load("move-exfil") is load("move_exfil")
    with pytest.raises(UsageError, match="unknown attack 'nope'"):
        load("nope")


@pytest.mark.parametrize("args", [["range", "attack", "no-such-attack"], ["range", "ablate", "nope"],
                                  ["range", "attack", "wiper", "--off", "firewall"]])
def test_bad_input_is_a_one_line_error(args: list[str], tmp_path: object) -> None:
    proc = subprocess.run([sys.executable, "-m", "radguard.cli.main", *args, "--dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("radguard: error:")


def test_no_range_in_the_directory_is_a_one_line_error(tmp_path: object) -> None:
    proc = subprocess.run([sys.executable, "-m", "radguard.cli.main", "range", "status", "--dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no range in" in proc.stderr
