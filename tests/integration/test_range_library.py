"""The measuring range end to end, through the CLI as a user runs it, on ONE range for the whole module:

up -> the library with every layer on -> each attack with its expected layers off -> an ablation ->
down. Each attack with its expected layers off reaches its objective (measured), and with them on
is stopped or seen by one of them: no cell can be true by chance.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from radguard.range.attacks import library
from radguard.range.attacks.kit import DEPLOYED

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


#: the module's one store (set by the range fixture): range runs and the exercise land there, the report reads it
STORE: dict[str, str] = {}


def cli(*args: str, check_json: bool = True) -> tuple[int, dict[str, Any], str]:
    env = dict(os.environ, TCP_NODELAY="1", **STORE)
    proc = subprocess.run([sys.executable, "-m", "radguard.cli.main", *args], capture_output=True, text=True,
                          timeout=800, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    doc = json.loads(proc.stdout) if check_json and proc.stdout.strip() else {}
    return proc.returncode, doc, proc.stderr


@pytest.fixture(scope="module")
def range_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    run_dir = tmp_path_factory.mktemp("range")
    STORE["RADGUARD_DB"] = f"sqlite:///{run_dir.parent / (run_dir.name + '-store.db')}"
    rc, state, err = cli("range", "up", "--dir", str(run_dir), "--json")
    assert rc == 0, err[-2000:]
    assert state["schema"] == "radguard.range-state/1"
    try:
        yield run_dir
    finally:
        cli("range", "down", "--dir", str(run_dir), "--json")


@pytest.fixture(scope="module")
def all_on(range_dir: Path) -> dict[str, Any]:
    rc, doc, err = cli("range", "attack", "--dir", str(range_dir), "--benign-seconds", "5", "--json")
    assert rc == 0, err[-2000:]
    return doc


@pytest.fixture(scope="module")
def expected_off(range_dir: Path) -> dict[str, dict[str, Any]]:
    """Every attack rerun with all the layers it expects switched off (grouped: one run per set of layers)."""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for a in library():
        off = tuple(sorted(set(a.layers) & set(DEPLOYED)))
        if off:
            groups[off].append(a.name)
    results: dict[str, dict[str, Any]] = {}
    for off, names in groups.items():
        args = [a for layer in off for a in ("--off", layer)]
        rc, doc, err = cli("range", "attack", *names, *args, "--dir", str(range_dir), "--benign-seconds", "0",
                           "--json")
        assert rc == 0, err[-2000:]
        results.update({r["attack"]: r for r in doc["attacks"]})
    return results


def test_range_is_up_on_loopback_only(range_dir: Path) -> None:
    rc, doc, _ = cli("range", "status", "--dir", str(range_dir), "--json")
    assert rc == 0 and doc["up"], doc
    assert set(doc["processes"]) == {"workstation", "rogue", "pacs", "archive", "gateway", "monitor", "decoy"}
    assert doc["state"]["host"] == "127.0.0.1"


def test_results_follow_the_contract(all_on: dict[str, Any]) -> None:
    assert all_on["schema"] == "radguard.range/1"
    assert len(all_on["attacks"]) == len(library()) >= 20
    for r in all_on["attacks"]:
        for key in ("attack", "attack_ids", "prevented_by", "detected_by", "time_to_detect_ms", "impact",
                    "recovery_s"):
            assert key in r, (r["attack"], key)
        assert r["error"] is None, (r["attack"], r["error"])
    for layer in DEPLOYED:
        assert "false_positives" in all_on["layers"][layer]


def test_benign_traffic_alone_raises_no_alert(all_on: dict[str, Any]) -> None:
    benign = all_on["benign"]
    assert sum(benign["benign_ops"].values()) >= 2  # one operation at once, then one every 1.5 s (slower when loaded)
    assert not benign["benign_failed"]
    assert benign["alerts"] == [] and set(benign["false_positives"].values()) == {0}


def test_every_attack_is_stopped_or_seen_by_a_layer_it_expects(all_on: dict[str, Any]) -> None:
    missed = {}
    for r in all_on["attacks"]:
        expected = set(r["expected_layers"]) & set(DEPLOYED)
        if not expected:  # a gap of the range (the web API): measured as one, the attacker succeeds
            assert r["success"], r
            continue
        layers = set(r["prevented_by"]) | {d["layer"] for d in r["detected_by"]}
        if not layers & expected:
            missed[r["attack"]] = layers
    assert not missed


def test_seen_attacks_have_a_time_to_detect_from_the_alert(all_on: dict[str, Any]) -> None:
    for r in all_on["attacks"]:
        for d in r["detected_by"]:
            assert isinstance(d["time_to_detect_ms"], int) and 0 <= d["time_to_detect_ms"] < 60_000, r
            assert d["rule"]


def test_archive_attacks_are_recovered_and_verified(all_on: dict[str, Any]) -> None:
    by = {r["attack"]: r for r in all_on["attacks"]}
    for name in ("pixel-tamper", "ransomware-full", "wiper"):
        assert by[name]["recovery_s"] is not None and by[name]["recovery_verified"], by[name]
    assert by["wiper"]["impact"]["objects_lost"] > 0


def test_with_expected_layers_off_every_attack_succeeds(expected_off: dict[str, dict[str, Any]]) -> None:
    failed = {n: (r["note"], r["error"]) for n, r in expected_off.items() if not r["success"]}
    assert not failed
    for r in expected_off.values():
        off = set(r["layers_off"])
        assert not ({d["layer"] for d in r["detected_by"]} | set(r["prevented_by"])) & off


def test_ablation_cells_are_measured(range_dir: Path) -> None:
    rc, doc, err = cli("range", "ablate", "get-exfil", "insider-bulk-retrieve", "--dir", str(range_dir),
                       "--benign-seconds", "0", "--json")
    assert rc == 0, err[-2000:]
    rows = {row["attack"]: row for row in doc["ablation"]["rows"]}
    assert set(rows["get-exfil"]["off"]) == {"gateway"}
    assert rows["get-exfil"]["all_on"]["prevented_by"] == ["gateway"]
    assert rows["get-exfil"]["off"]["gateway"]["success"] is True
    assert set(rows["insider-bulk-retrieve"]["off"]) == {"monitor"}
    assert rows["insider-bulk-retrieve"]["off"]["monitor"]["detected_by"] == []
    assert "two_or_more_layers" in doc["defense_in_depth"]


def test_exercise_shows_live_facts_from_the_range(range_dir: Path, tmp_path: Path) -> None:
    player = tmp_path / "player.yaml"
    player.write_text("answers:\n  doubt: {choice: escalate, minutes: 10}\n  verify: {choice: recover-verified}\n"
                      "  clinical: {choice: review-reports}\n")
    env = dict(os.environ, **STORE)
    proc = subprocess.run([sys.executable, "-m", "radguard.cli.main", "exercise", "run", "tampered-ed-images",
                           "--player", str(player), "--range", str(range_dir), "--json"], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fact: the archive audit reports 0 alerts" in proc.stderr
    assert json.loads(proc.stdout)["score"] == 7


def test_report_shows_the_last_range_run_and_exercise(range_dir: Path, tmp_path: Path) -> None:
    """``radguard report`` reads the one store: the latest range run (the ablation above) and the exercise."""
    rc, doc, err = cli("report", "--out", str(tmp_path / "r"), "--no-pdf", "--json", "--fail-on", "critical")
    assert rc in (0, 1), err[-2000:]
    assert doc["range"]["totals"]["attacks"] == 2 and doc["range"]["ablation"] is True
    assert doc["exercise"]["score"] == 7 and doc["exercise"]["improvement_plan"] is not None
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Defense measured on the range" in html and "get-exfil" in html and "Last exercise" in html
    assert not {lay["kind"] for lay in doc["layers"]} & {"range", "exercise"}


def test_down_leaves_no_process_and_no_listener(range_dir: Path) -> None:
    _, status, _ = cli("range", "status", "--dir", str(range_dir), "--json")
    pids = [p["pid"] for p in status["processes"].values()]
    ports = [int(p) for p in status["ports"]]
    rc, doc, _ = cli("range", "down", "--dir", str(range_dir), "--json")
    assert rc == 0 and doc["listening"] == []
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
    for port in ports:
        with socket.socket() as s:
            s.settimeout(0.3)
            assert s.connect_ex(("127.0.0.1", port)) != 0
    rc, _, _ = cli("range", "status", "--dir", str(range_dir), "--json")
    assert rc == 1
