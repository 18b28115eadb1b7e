"""Tabletop exercises end to end through the CLI, driven by scripted players (simulated clock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from radguard.range import exercise

GOOD = """answers:
  detect: {choice: call-pacs-admin, minutes: 5}
  contain: {choice: downtime-gateway, minutes: 20}
  recover: {choice: verified-restore, minutes: 120}
  notify: {choice: holding-statement, minutes: 30}
"""
# right choices, too slow for the first deadline; then the wrong ones
SLOW = """answers:
  detect: {choice: restart-viewer, minutes: 40}
  contain-late: {choice: isolate-now, minutes: 45}
  recover: {choice: pay-ransom, minutes: 300}
  notify: {choice: deny, minutes: 10}
"""


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RADGUARD_DB=f"sqlite:///{tmp_path / 'x.db'}")
    return subprocess.run([sys.executable, "-m", "radguard.cli.main", "exercise", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)


def play(tmp_path: Path, name: str, answers: str) -> dict[str, Any]:
    player = tmp_path / f"{name}.yaml"
    player.write_text(answers)
    proc = run(tmp_path, "run", "ransomware-night", "--player", str(player), "--json")
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    assert doc["schema"] == "radguard.exercise-aar/1"
    return doc


def test_two_players_take_different_branches_scores_and_actions(tmp_path: Path) -> None:
    good, slow = play(tmp_path, "good", GOOD), play(tmp_path, "slow", SLOW)
    assert [p["inject"] for p in good["path"]] == ["detect", "contain", "recover", "notify"]
    assert [p["inject"] for p in slow["path"]] == ["detect", "contain-late", "recover", "notify"]
    assert good["score"] == good["possible"] == 9 and good["improvement_plan"] == []
    assert slow["score"] == 0 and slow["not_met"] == 4
    actions = {c["action"] for c in slow["improvement_plan"]}
    assert "Adopt a board-approved no-ransom policy and verified restore drills" in actions
    for c in slow["improvement_plan"]:
        assert c["owner"] in exercise.ROLES and c["priority"] in exercise.PRIORITIES and c["due"] >= "2000-01-01"
    assert len(actions) == len(slow["improvement_plan"])  # one item per corrective action
    # both after-action reports are kept in the store for governance
    from radguard.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        runs = store.runs(kind="exercise")
        assert {r.summary["score"] for r in runs} == {0, 9}
    finally:
        store.close()


def test_a_deadline_is_on_exercise_time(tmp_path: Path) -> None:
    late = GOOD.replace("call-pacs-admin, minutes: 5", "call-pacs-admin, minutes: 16")
    doc = play(tmp_path, "late", late)
    first = doc["path"][0]["expectations"][0]
    assert first["id"] == "report-within-15" and first["met"] is False
    assert doc["score"] == 7


@pytest.mark.parametrize("name", sorted(exercise.shipped()))
def test_shipped_scenarios_export_and_import_as_one_file(tmp_path: Path, name: str) -> None:
    out = tmp_path / f"{name}.yaml"
    assert run(tmp_path, "export", name, "-o", str(out)).returncode == 0
    proc = run(tmp_path, "validate", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"] == name
    scenario, _ = exercise.load(str(out))
    assert {i.module for i in scenario.injects.values()} == set(exercise.MODULES)


@pytest.mark.parametrize("text", ["schema: radguard.exercise/1\nid: x\n", "{{{ not yaml", "- a list\n",
                                  "schema: radguard.exercise/1\nid: x\ntitle: t\nstart: a\ninjects:\n"
                                  "  - {id: a, module: lunch, role: CISO, deadline: 1, text: t, decision: {}}\n"])
def test_a_malformed_scenario_is_a_one_line_error(tmp_path: Path, text: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    proc = run(tmp_path, "validate", str(bad))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("radguard: error:"), proc.stderr


def test_a_player_without_an_answer_is_a_one_line_error(tmp_path: Path) -> None:
    player = tmp_path / "p.yaml"
    player.write_text("answers:\n  detect: {choice: call-pacs-admin}\n")
    proc = run(tmp_path, "run", "ransomware-night", "--player", str(player), "--no-store")
    assert proc.returncode == 2 and "no answer for inject 'contain'" in proc.stderr
