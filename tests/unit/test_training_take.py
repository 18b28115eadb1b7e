"""The lesson in a terminal (Rich prompts): answers checked one by one, the score recorded; a closed terminal
records nothing. (tests/e2e/test_train_cli.py drives the same on a real pseudo-terminal with pexpect.)"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from radguard.govern.training import lesson
from radguard.govern.training_roster import Person, completions, import_roster
from radguard.govern.training_take import take_lesson
from radguard.store import open_store

ANN = Person(id="ct-01", name="Ann", role="technologist", department="CT", email="ann@example.org")


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, typed: str) -> tuple[object, str]:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    import_roster(store, [ANN])
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    out = io.StringIO()
    got = take_lesson(store, ANN, lesson("downtime"), Console(file=out, width=120, color_system=None))
    assert len(completions(store)) == (0 if got is None else 1)
    return got, out.getvalue()


def test_a_lesson_scored_and_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got, text = _run(tmp_path, monkeypatch, "a, b\na\nb\nb\n")  # two answers to a one-answer question: again
    assert got is not None
    result, done = got  # type: ignore[misc]
    assert (result.score, result.total, result.passed, done.source) == (3, 3, True, "terminal")
    assert "Downtime procedures when the PACS or RIS is down" in text and "one answer only" in text
    assert "Score 3/3 (100%): passed" in text


def test_a_closed_terminal_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got, text = _run(tmp_path, monkeypatch, "a\n")  # then end of input
    assert got is None and "nothing recorded" in text
