"""GoPhish campaign results (the JSON of GET /api/campaigns/ID/results and the results CSV export): the funnel
sent -> opened -> clicked -> submitted data -> reported per department, joined to the roster by e-mail."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from radguard.errors import UsageError
from radguard.govern.training_phish import OFF_ROSTER, Stage, import_campaign, parse_campaign, report
from radguard.govern.training_roster import Person, import_roster
from radguard.store import open_store
from tests.support.gophish import Target, campaign_results, results_csv, results_json

ROSTER = [Person(id="p1", name="Ann", role="technologist", department="CT", email="ann@example.org"),
          Person(id="p2", name="Bob", role="radiologist", department="Reading", email="bob@example.org"),
          Person(id="p3", name="Cy", role="technologist", department="CT", email="cy@example.org"),
          Person(id="p4", name="Di", role="front-desk", department="Front desk", email="di@example.org")]
TARGETS = [Target("ann@example.org", "Ann", "Tech", "Technologist", "submitted"),
           Target("Bob@Example.org", "Bob", "Rad", "Radiologist", "opened", reported=True),
           Target("cy@example.org", "Cy", "Tech", "=HYPERLINK(x)", "clicked"),
           Target("di@example.org", "Di", "Desk", "Front desk", "sent", reported=True),
           Target("temp@agency.example", "Tem", "P", "Locum", "error")]


def _files(tmp_path: Path) -> tuple[Path, Path]:
    doc = campaign_results(7, "Q4 vendor licence", TARGETS, launched=datetime(2026, 10, 6, 8, 30, tzinfo=UTC))
    js = tmp_path / "results.json"
    js.write_text(results_json(doc))
    cs = tmp_path / "Q4 vendor licence - Results.csv"
    cs.write_text(results_csv(doc), encoding="utf-8")
    return js, cs


def test_json_and_csv_exports_read_alike(tmp_path: Path) -> None:
    js, cs = _files(tmp_path)
    a, b = parse_campaign(js), parse_campaign(cs)
    assert (a.name, a.gophish_id, a.source) == ("Q4 vendor licence", 7, "json")
    assert (b.name, b.gophish_id, b.source) == ("Q4 vendor licence", None, "csv")
    assert [(r.email, r.stage, r.reported) for r in a.results] == [(r.email, r.stage, r.reported) for r in b.results]
    assert [r.stage for r in a.results] == [Stage.SUBMITTED, Stage.OPENED, Stage.CLICKED, Stage.SENT, Stage.NOT_SENT]
    assert a.results[1].email == "bob@example.org"  # joined in lower case
    assert a.launched is not None and a.launched.isoformat().startswith("2026-10-06T08:30")
    assert a.results[0].sent == b.results[0].sent and a.results[4].sent is None  # Go zero time: never sent


def test_funnel_per_department_and_repeat_clickers(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    import_roster(store, ROSTER)
    js, _ = _files(tmp_path)
    first, replaced = import_campaign(store, parse_campaign(js))
    assert not replaced
    rep = report(store, ROSTER)
    assert rep is not None and rep.campaign.id == first
    t = rep.total
    assert (t.recipients, *t.counts.values()) == (5, 4, 3, 2, 1, 2)
    assert t.rate("clicked") == 0.5 and t.rate("reported") == 0.5
    ct = rep.departments["CT"]
    assert ct.counts == {"sent": 2, "opened": 2, "clicked": 2, "submitted": 1, "reported": 0}
    assert rep.departments["Reading"]["reported"] == 1 and rep.departments[OFF_ROSTER]["sent"] == 0
    assert rep.repeat_clickers == ()
    # importing the same GoPhish campaign again replaces it
    assert import_campaign(store, parse_campaign(js))[1] is True
    # a second campaign (CSV export) in which Cy clicks again: a repeat clicker
    doc2 = campaign_results(9, "Q1 outside CD", [Target("cy@example.org", "Cy", "T", "", "clicked"),
                                                 Target("ann@example.org", "Ann", "T", "", "sent", reported=True)],
                            launched=datetime(2027, 1, 12, 9, 0, tzinfo=UTC))
    cs2 = tmp_path / "Q1 outside CD - Results.csv"
    cs2.write_text(results_csv(doc2), encoding="utf-8")
    import_campaign(store, parse_campaign(cs2))
    latest = report(store, ROSTER)
    assert latest is not None and latest.campaign.name == "Q1 outside CD"  # latest launched first
    assert latest.repeat_clickers == ("p3",)
    with pytest.raises(UsageError, match=f"no imported campaign #{first} "):  # replaced by the second import
        report(store, ROSTER, first)
    doc = latest.to_dict()
    json.dumps(doc)
    assert doc["funnel"]["clicked"] == 1 and "CT" in doc["departments"]


def _bad(tmp_path: Path, name: str, text: str) -> str:
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(UsageError) as exc:
        parse_campaign(f)
    msg = str(exc.value)
    assert msg.startswith(str(f) + ":"), msg
    return msg.removeprefix(str(f))


def test_malformed_files_name_the_line(tmp_path: Path) -> None:
    doc = campaign_results(3, "x", TARGETS)
    doc["results"][2]["status"] = "Pwned"
    pretty = json.dumps(doc, indent=2)
    # the third result starts on its own line in pretty-printed JSON
    third = [n for n, ln in enumerate(pretty.splitlines(), 1) if ln == "    {"][2]
    assert _bad(tmp_path, "a.json", pretty).startswith(f":{third}: results[2]: unknown status 'Pwned'")
    del doc["results"][0]["email"]
    assert _bad(tmp_path, "b.json", results_json(doc)).startswith(":1: results[0]: missing 'email'")
    assert _bad(tmp_path, "c.json", '{"results": [\n {"email": "a@x.org",\n "status": }]}').startswith(
        ":3:12: not valid JSON")
    assert "expected GoPhish campaign results" in _bad(tmp_path, "d.json", '{"campaigns": []}')
    csv_text = results_csv(campaign_results(3, "x", TARGETS), bom=False).split("\r\n")
    csv_text[3] = csv_text[3].replace("Clicked Link", "Clicked")
    assert _bad(tmp_path, "e.csv", "\r\n".join(csv_text)).startswith(":4: unknown status 'Clicked'")
    assert _bad(tmp_path, "f.csv", "email,reported\na@x.org,true\n").startswith(":1: no 'status' column")
    assert _bad(tmp_path, "g.csv", "email,status,reported\na@x.org,Email Sent,maybe\n").startswith(
        ":2: reported is 'maybe'")
    assert _bad(tmp_path, "h.csv", "email,status\n").endswith("has no results")
