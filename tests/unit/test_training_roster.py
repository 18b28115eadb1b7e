"""The workforce roster: CSV import checked whole (a line number on every problem), sync, completions."""

from __future__ import annotations

from pathlib import Path

import pytest

from radguard.errors import UsageError
from radguard.govern.training import lesson, score
from radguard.govern.training_roster import (
    completions,
    find_person,
    import_roster,
    last_passed,
    parse_roster,
    people,
    record_completion,
)
from radguard.store import open_store

ROSTER = "\ufeffID,Name,Role,Department,Email\r\np1,Ann Tech,Technologist,CT,Ann@Example.org\r\n" \
         "p2,\"Rad, Bob\",radiologist,Reading,bob@example.org\r\n\r\np3,Cy,front-desk,,cy@example.org\r\n"


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "roster.csv"
    f.write_text(text, encoding="utf-8")
    return f


def test_parse_a_roster(tmp_path: Path) -> None:
    got = parse_roster(_write(tmp_path, ROSTER))
    assert [(p.id, p.name, p.role, p.department, p.email) for p in got] == [
        ("p1", "Ann Tech", "technologist", "CT", "ann@example.org"),
        ("p2", "Rad, Bob", "radiologist", "Reading", "bob@example.org"),
        ("p3", "Cy", "front-desk", "(none)", "cy@example.org")]


@pytest.mark.parametrize(("text", "where", "what"), [
    ("", ":1:", "empty file"),
    ("id,name,role,email\n", ":1:", "missing column 'department'"),
    ("id,name,role,department,email,ssn\n", ":1:", "unknown column 'ssn'"),
    ("id,name,role,department,email\np1,A,r,d,a@x.org\np2,B,r,d\n", ":3:", "4 fields, expected 5"),
    ("id,name,role,department,email\np1,A,r,d,a@x.org\np2,B,r,d,not-an-address\n", ":3:", "not an e-mail"),
    ("id,name,role,department,email\np1,A,r,d,a@x.org\np1,B,r,d,b@x.org\n", ":3:", "person id 'p1' appears twice"),
    ("id,name,role,department,email\np1,A,r,d,a@x.org\np2,B,r,d,A@X.org\n", ":3:", "e-mail 'a@x.org' appears twice"),
    ("id,name,role,department,email\n,A,r,d,a@x.org\n", ":2:", "empty id"),
    ("id,name,role,department,email\np1,\"A,r,d,a@x.org\n", ":2:", "not valid CSV"),
    ("id,name,role,department,email\n", ":1:", "no people"),
])
def test_a_malformed_roster_names_the_line(tmp_path: Path, text: str, where: str, what: str) -> None:
    f = _write(tmp_path, text)
    with pytest.raises(UsageError) as exc:
        parse_roster(f)
    assert f"{f}{where}" in str(exc.value) and what in str(exc.value), str(exc.value)


def test_import_syncs_the_active_workforce_and_completions_stay(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    first = parse_roster(_write(tmp_path, ROSTER))
    assert import_roster(store, first) == {"added": 3, "updated": 0, "unchanged": 0, "left": 0}
    ann = find_person(store, "ANN@example.org")
    les = lesson("phishing")
    record_completion(store, ann, score(les, {q.id: q.answer for q in les.questions}), "file")
    record_completion(store, ann, score(les, {}), "terminal")  # a later failed attempt keeps the earlier pass
    assert [(c.lesson, c.passed, c.source) for c in completions(store, "p1")] == [("phishing", True, "file"),
                                                                                 ("phishing", False, "terminal")]
    assert set(last_passed(store)) == {("p1", "phishing")}
    second = [p for p in first if p.id != "p2"]
    second[0] = type(second[0])(id="p1", name="Ann Tech", role="pacs-admin", department="PACS",
                                email="ann@example.org")
    assert import_roster(store, second) == {"added": 0, "updated": 1, "unchanged": 1, "left": 1}
    assert [p.id for p in people(store)] == ["p3", "p1"]  # by department: (none), PACS
    assert [p.id for p in people(store, include_inactive=True) if not p.active] == ["p2"]
    with pytest.raises(UsageError, match="no longer on the active roster"):
        find_person(store, "p2")
    with pytest.raises(UsageError, match="no person 'p9'"):
        find_person(store, "p9")
    assert len(completions(store, "p1")) == 2
