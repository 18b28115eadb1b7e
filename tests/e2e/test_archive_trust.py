"""The ledger's trust anchor: audit --key names the only key whose signatures are trusted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from radguard.range.samples import bundled
from tests.e2e.cli import json_doc, radguard, usage_error


def _sealed(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    env = {"RADGUARD_KEY": str(tmp_path / "site.pem")}
    arc = tmp_path / "arc"
    arc.mkdir()
    shutil.copy(bundled("CT_small.dcm"), arc)
    json_doc(radguard(["keygen", "--json"], env=env), "keygen")
    json_doc(radguard(["seal", str(arc), "--workers", "1", "--json"], env=env), "seal")
    return arc, env


def test_audit_with_another_key_flags_the_ledger(tmp_path: Path) -> None:
    arc, env = _sealed(tmp_path)
    json_doc(radguard(["keygen", "--key", str(tmp_path / "other.pem"), "--json"]), "keygen")
    doc = json_doc(radguard(["audit", str(arc), "--key", str(tmp_path / "other.pem"), "--workers", "1", "--json"],
                            env=env), "audit", rc=1)
    assert [(f["rule"], f["severity"], f["evidence"]["problems"]) for f in doc["findings"]] == [
        ("ledger-invalid", "critical", ["untrusted-key"])]


@pytest.mark.parametrize("key", ["missing.pem", "garbage.pem"])
def test_audit_with_an_unreadable_explicit_key_does_not_trust_any_signature(tmp_path: Path, key: str) -> None:
    arc, env = _sealed(tmp_path)
    (tmp_path / "garbage.pem").write_text("not a key\n")
    line = usage_error(radguard(["audit", str(arc), "--key", str(tmp_path / key), "--workers", "1", "--json"],
                                env=env))
    assert key in line


def test_bad_dask_address_is_a_usage_error(tmp_path: Path) -> None:
    arc, env = _sealed(tmp_path)
    line = usage_error(radguard(["audit", str(arc), "--dask", "notaurl", "--json"], env=env))
    assert line.startswith("radguard: error: ") and "notaurl" in line
