"""Output paths are typed options checked while the command line is parsed (radguard.cli.options).

README "CLI contract": a command that cannot write its output is exit 2 with one line, no
traceback, and it stops before doing any work (no store run, no output file, no scan).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from radguard.cli.main import main
from radguard.cli.options import output_problem
from tests.support.corpus import write_tree


def _unwritable_dirs(tmp_path: Path) -> list[Path]:
    """Folders no output can go into: below a regular file, and (unless root) a mode-0500 folder."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    found = [afile / "sub"]
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        found.append(ro)
    return found


def test_output_problem(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert output_problem(tmp_path / "new" / "deeper" / "out.sarif", "file") is None  # folders are created
    assert output_problem(afile, "file") is None
    assert output_problem(tmp_path, "file") == "is a directory"
    assert output_problem(afile, "dir") == "exists and is not a directory"
    assert output_problem(afile / "out.sarif", "file") == f"{afile} is not a directory"


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def test_unwritable_output_is_exit_2_one_line_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RADGUARD_DB", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("RADGUARD_KEY", str(tmp_path / "k.pem"))
    arc = tmp_path / "arc"
    write_tree(arc, ("MR_small.dcm",))
    pcap = tmp_path / "empty.pcap"
    pcap.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    for bad in _unwritable_dirs(tmp_path):
        for args, option in (
            (["audit", str(arc), "--workers", "1", "--sarif", str(bad / "a.sarif")], "--sarif"),
            (["pcap", str(pcap), "--records", str(bad / "r.jsonl")], "--records"),
            (["pcap", str(pcap), "--zeek-log", str(bad / "zeek")], "--zeek-log"),
            (["pcap", str(pcap), "--learn-baseline", str(bad / "b.json")], "--learn-baseline"),
            (["keygen", "--key", str(bad / "k.pem")], "--key"),
        ):
            assert main([*args, "--json"]) == 2, args
            line = _one_line(capsys)
            assert line.startswith(f"radguard: error: {option} {bad}"), line
    assert not (tmp_path / "k.pem").exists()
    assert main(["pcap", str(pcap), "--zeek-log", str(tmp_path / "afile"), "--json"]) == 2
    assert _one_line(capsys).endswith("exists and is not a directory")
    # nothing ran: the store holds no run at all
    assert main(["runs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == []
    # --help still wins over a bad output path
    assert main(["audit", str(arc), "--sarif", str(tmp_path / "afile" / "x"), "--help"]) == 0
    assert "Usage: radguard audit" in capsys.readouterr().out


def test_missing_output_folders_are_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RADGUARD_DB", f"sqlite:///{tmp_path / 'store.db'}")
    pcap = tmp_path / "empty.pcap"
    pcap.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    out = tmp_path / "out" / "deeper"
    assert main(["pcap", str(pcap), "--json", "--sarif", str(out / "p.sarif"), "--learn-baseline",
                 str(out / "baseline.json"), "--records", str(out / "r" / "records.jsonl")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.pcap/1" and doc["findings"] == []
    assert json.loads((out / "p.sarif").read_text())["version"] == "2.1.0"
    assert (out / "baseline.json").exists() and (out / "r" / "records.jsonl").exists()
