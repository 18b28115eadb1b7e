"""Containment state kept across restarts (issue 16 item 6): holds, the state file, fail closed on a hostile one."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from radguard.errors import ConfigError
from radguard.gateway.containment import SCHEMA, Containment, StateFile, state_path


def test_holds_record_who_and_since_when_and_release_removes_them() -> None:
    c = Containment()
    c.apply("peer", "CT01", "root")
    c.apply("read-only", "WS01", "radguard", console_user="alice")
    c.apply("downtime", None, "root")
    assert c.peers == {"CT01"} and c.read_only_peers == {"WS01"} and c.downtime and not c.read_only
    assert c.is_read_only("WS01") and not c.is_read_only("CT01")
    first = c.holds[("peer", "CT01")]
    c.apply("peer", "CT01", "bob")  # already in force: keeps who started it and when
    assert c.holds[("peer", "CT01")] is first and first.who == "root"
    assert c.holds[("read-only", "WS01")].who == "alice (console, as radguard)"
    assert first.at.endswith("Z") and first.at[:2] == "20"
    c.apply("release", "WS01", "root")
    assert c.read_only_peers == frozenset() and c.peers == {"CT01"}
    c.apply("release", None, "root")
    assert c.holds == {} and c.peers == frozenset() and not c.downtime
    with pytest.raises(ValueError, match="needs an AE title"):
        c.apply("peer", None, "root")
    with pytest.raises(ValueError, match="unknown containment action"):
        c.apply("lockdown", None, "root")


def test_saved_atomically_with_mode_0600_and_loaded_back(tmp_path: Path) -> None:
    path = state_path(tmp_path / "run" / "gateway.sock")
    assert path == tmp_path / "run" / "gateway.state"
    path.parent.mkdir()
    sf = StateFile(path)
    assert sf.load().holds == {}  # no file: nothing contained
    c = Containment()
    c.apply("peer", "CT01", "root", console_user="alice")
    c.apply("read-only", None, "root")
    old = os.umask(0)  # even with a permissive umask the file is owner-only
    try:
        sf.save(c)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["gateway.state"]  # no temporary file left
    doc = json.loads(path.read_text())
    assert doc["schema"] == SCHEMA and [h["kind"] for h in doc["holds"]] == ["peer", "read-only"]
    back = sf.load()
    assert back.holds == c.holds and back.peers == {"CT01"} and back.read_only
    c.apply("release", None, "root")
    sf.save(c)
    assert sf.load().holds == {}


def _state(tmp_path: Path, text: str | bytes, mode: int = 0o600) -> StateFile:
    path = tmp_path / "gateway.state"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.chmod(path, mode)
    return StateFile(path)


GOOD = {"kind": "peer", "peer": "CT01", "by": "root", "console_user": None, "at": "2026-12-06T03:40:00Z"}


@pytest.mark.parametrize(("text", "mode", "reason"), [
    ("{not json", 0o600, r"not JSON"),
    (b"\xff\xfe", 0o600, r"not JSON"),
    (json.dumps({"schema": "other/1", "holds": []}), 0o600, r"not a radguard.containment/1 document"),
    (json.dumps([1, 2]), 0o600, r"not a radguard.containment/1 document"),
    (json.dumps({"schema": SCHEMA, "holds": [{**GOOD, "kind": "nuke"}]}), 0o600, r"holds\[0\] is not a valid hold"),
    (json.dumps({"schema": SCHEMA, "holds": [GOOD, {**GOOD, "peer": None}]}), 0o600, r"holds\[1\] is not a valid"),
    (json.dumps({"schema": SCHEMA, "holds": [{**GOOD, "peer": "X" * 17}]}), 0o600, r"holds\[0\] is not a valid"),
    (json.dumps({"schema": SCHEMA, "holds": [{**GOOD, "at": "yesterday"}]}), 0o600, r"holds\[0\] is not a valid"),
    (json.dumps({"schema": SCHEMA, "holds": [{**GOOD, "extra": 1}]}), 0o600, r"holds\[0\] is not a valid"),
    (json.dumps({"schema": SCHEMA, "holds": [GOOD]}), 0o644, r"mode 0644, must be 0600"),
    (json.dumps({"schema": SCHEMA, "holds": [GOOD]}), 0o620, r"mode 0620, must be 0600"),
])
def test_a_corrupt_or_exposed_state_file_fails_closed(tmp_path: Path, text: str | bytes, mode: int,
                                                      reason: str) -> None:
    sf = _state(tmp_path, text, mode)
    with pytest.raises(ConfigError, match=reason) as info:
        sf.load()
    assert "does not start without its containment" in str(info.value) and "\n" not in str(info.value)


def test_a_state_file_of_another_owner_a_link_or_a_directory_fails_closed(tmp_path: Path) -> None:
    good = json.dumps({"schema": SCHEMA, "holds": [GOOD]})
    sf = _state(tmp_path, good)
    assert sf.load().peers == {"CT01"}
    other = os.geteuid() + 4242
    try:
        os.chown(sf.path, other, -1)
    except PermissionError:
        pytest.skip("cannot give a file to another user here")
    with pytest.raises(ConfigError, match=f"owned by uid {other}"):
        sf.load()
    sf.path.unlink()
    target = tmp_path / "elsewhere.json"
    target.write_text(good)
    os.chmod(target, 0o600)
    sf.path.symlink_to(target)
    with pytest.raises(ConfigError, match="a symbolic link"):
        sf.load()
    sf.path.unlink()
    sf.path.mkdir()
    with pytest.raises(ConfigError, match="not a regular file"):
        sf.load()
