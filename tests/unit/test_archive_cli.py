"""CLI contract of keygen / seal / audit / recover / canary plant (in-process, SQLite store)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from radguard.cli.main import main
from tests.support.corpus import PE_STUB, read, with_preamble, write_tree


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out = capsys.readouterr().out
    doc: dict[str, object] = json.loads(out)
    return doc


def test_seal_needs_a_key_and_names_keygen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RADGUARD_KEY", str(tmp_path / "none.pem"))
    write_tree(tmp_path / "arc", ("MR_small.dcm",))
    assert main(["seal", str(tmp_path / "arc")]) == 2
    assert "radguard keygen" in capsys.readouterr().err
    assert main(["audit", str(tmp_path / "nowhere")]) == 2


def test_keygen_mode_passphrase_and_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "keys" / "k.pem"
    monkeypatch.setenv("MY_PASS", "correct horse")
    assert main(["keygen", "--key", str(key), "--passphrase-env", "MY_PASS", "--json"]) == 0
    doc = _json(capsys)
    assert doc["schema"] == "radguard.keygen/1" and doc["encrypted"] is True
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and b"ENCRYPTED" in key.read_bytes()
    assert main(["keygen", "--key", str(key)]) == 2
    write_tree(tmp_path / "arc", ("MR_small.dcm",))
    monkeypatch.delenv("MY_PASS")
    assert main(["seal", "--key", str(key), "--passphrase-env", "MY_PASS", str(tmp_path / "arc")]) == 2
    monkeypatch.setenv("MY_PASS", "correct horse")
    assert main(["seal", "--key", str(key), "--passphrase-env", "MY_PASS", str(tmp_path / "arc"), "--json"]) == 0


def test_seal_audit_json_sarif_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RADGUARD_KEY", str(tmp_path / "k.pem"))
    assert main(["keygen"]) == 0
    capsys.readouterr()
    arc = tmp_path / "arc"
    paths = write_tree(arc)
    assert main(["seal", str(arc), "--workers", "2", "--json"]) == 0
    doc = _json(capsys)
    assert doc["schema"] == "radguard.seal/1" and doc["findings"] == []
    assert doc["summary"]["files"] == 8  # type: ignore[index]
    paths[0].write_bytes(with_preamble(paths[0].name, PE_STUB))
    (arc / "unreadable.dcm").write_bytes(b"x")
    os.chmod(arc / "unreadable.dcm", 0)
    sarif = tmp_path / "out.sarif"
    rc = main(["audit", str(arc), "--workers", "2", "--json", "--sarif", str(sarif)])
    doc = _json(capsys)
    rules = sorted((f["rule"], f["severity"]) for f in doc["findings"])  # type: ignore[union-attr, index]
    expected = [("executable-preamble", "critical"), ("bytes-changed", "medium")]  # preamble: not a re-encoding
    if os.geteuid() != 0:  # root reads mode-0 files
        expected.append(("unreadable", "medium"))
    else:
        expected.append(("not-dicom", "low"))
    expected.append(("unexpected", "medium"))
    assert rc == 1 and rules == sorted(expected)
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    assert main(["audit", str(arc), "--fail-on", "critical", "--json"]) == 1
    capsys.readouterr()
    paths[0].write_bytes(read(paths[0].name))
    (arc / "unreadable.dcm").unlink()
    assert main(["audit", str(arc), "--json", "--fail-on", "info"]) == 0
    assert main(["audit", str(arc), "--fail-on", "bogus"]) == 2


def test_canary_plant_and_recover_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RADGUARD_KEY", str(tmp_path / "k.pem"))
    main(["keygen"])
    arc = tmp_path / "arc"
    write_tree(arc, ("MR_small.dcm",))
    main(["seal", str(arc)])
    capsys.readouterr()
    assert main(["canary", "plant", str(arc / "study0"), "--count", "2", "--json"]) == 0
    planted = _json(capsys)["canaries"]
    assert isinstance(planted, list) and len(planted) == 2
    assert main(["audit", str(arc), "--json"]) == 0
    capsys.readouterr()
    Path(planted[0]).unlink()
    assert main(["audit", str(arc), "--json"]) == 1
    rules = sorted(f["rule"] for f in _json(capsys)["findings"])  # type: ignore[union-attr, index]
    assert rules == ["canary-touched", "missing"]
    backup = tmp_path / "empty-backup"
    backup.mkdir()
    assert main(["recover", str(arc), "--from", str(backup), "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["report"]["counts"] == {"unrecoverable": 1}
    assert "time to recover:" in captured.err
