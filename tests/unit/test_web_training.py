"""Workforce training on the console's governance page and in /api/governance (radguard train status)."""

from __future__ import annotations

from pathlib import Path

from radguard.govern.training import lessons_for, score
from radguard.govern.training_roster import Person, import_roster, record_completion
from radguard.store import Store
from tests.unit.test_web_security import login, make_client, users  # noqa: F401 - fixture
from tests.unit.test_web_security import store as store


def test_governance_shows_training(tmp_path: Path, users: Store) -> None:  # noqa: F811
    client = make_client(tmp_path)
    assert login(client, "vera") == 303
    assert "no roster yet" in client.get("/governance").text
    roster = [Person(id="ct-01", name="Ann", role="technologist", department="CT & MR", email="a@x.org"),
              Person(id="fd-01", name="Cy", role="front-desk", department="Front desk", email="c@x.org")]
    import_roster(users, roster)
    for les in lessons_for("technologist"):
        record_completion(users, roster[0], score(les, {q.id: q.answer for q in les.questions}), "file")
    page = client.get("/governance").text
    assert "1 of 2 people current" in page and "CT &amp; MR" in page  # escaped
    data = client.get("/api/governance").json()["training"]
    assert (data["people"], data["current"], data["completion_rate"], data["state"]) == (2, 1, 0.5, "partial")
    assert "due" not in data and data["departments"]["Front desk"] == {"current": 0, "people": 1}
