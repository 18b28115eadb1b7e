"""Training status: due/overdue by each lesson's interval, completion rate, the state it gives 45 CFR 164.308(a)(5)
and CPG ESS-04 in govern status (with the training obligation), reminders, and the store migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from radguard.govern.questions import State
from radguard.govern.status import govern_status
from radguard.govern.training import lesson, lessons_for, score
from radguard.govern.training_phish import import_campaign, parse_campaign
from radguard.govern.training_roster import Person, import_roster, record_completion
from radguard.govern.training_status import summary, write_reminders
from radguard.store import Store, open_store
from tests.support.gophish import Target, campaign_results, results_json

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
ROSTER = [Person(id=f"p{i}", name=f"Person {i}", role="technologist" if i < 5 else "billing",
                 department="CT" if i < 5 else "Billing", email=f"p{i}@example.org") for i in range(10)]


def _pass(store: Store, person: Person, lesson_id: str, when: datetime) -> None:
    les = lesson(lesson_id)
    record_completion(store, person, score(les, {q.id: q.answer for q in les.questions}), "file", when)


def _train(store: Store, people: list[Person], when: datetime) -> None:
    for p in people:
        for les in lessons_for(p.role):
            _pass(store, p, les.id, when)


def _store(tmp_path: Path) -> Store:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    import_roster(store, ROSTER)
    return store


def test_due_and_overdue_by_interval(tmp_path: Path) -> None:
    store = _store(tmp_path)
    st = summary(store, NOW)
    assert st.people == 10 and st.current == 0 and st.completion_rate == 0.0 and st.state() is State.NOT_MET
    needed = sum(len(lessons_for(p.role)) for p in ROSTER)
    assert len(st.overdue) == needed and all(d.last_passed is None for d in st.due)
    _train(store, ROSTER[:9], NOW - timedelta(days=300))
    _pass(store, ROSTER[0], "phishing", NOW - timedelta(days=400))  # an older pass does not hide the newer one
    st = summary(store, NOW)
    assert (st.current, st.completion_rate, st.state()) == (9, 0.9, State.MET)
    assert {d.person.id for d in st.overdue} == {"p9"}
    assert st.departments == {"Billing": (4, 5), "CT": (5, 5)}
    assert st.trained_as_of is None  # p9 never trained: the workforce is not trained yet
    soon = summary(store, NOW, within_days=70)  # 300 + 70 > 365: everyone's lessons fall due
    assert len(soon.due) == needed and len(soon.overdue) == len(lessons_for("billing"))
    late = summary(store, NOW + timedelta(days=70))
    assert late.current == 0 and late.state() is State.NOT_MET
    _train(store, ROSTER[9:], NOW - timedelta(days=10))
    assert summary(store, NOW).trained_as_of == NOW - timedelta(days=300)


def test_state_thresholds_and_phishing_click_rate(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _train(store, ROSTER[:6], NOW - timedelta(days=30))
    assert summary(store, NOW).state() is State.PARTIAL  # 60%
    _train(store, ROSTER[6:], NOW - timedelta(days=30))
    assert summary(store, NOW).state() is State.MET
    doc = campaign_results(4, "Q1", [Target(p.email, p.name, "", "", "clicked" if i < 3 else "sent")
                                     for i, p in enumerate(ROSTER)], launched=NOW - timedelta(days=5))
    f = tmp_path / "r.json"
    f.write_text(results_json(doc))
    import_campaign(store, parse_campaign(f))
    st = summary(store, NOW)
    assert st.phishing is not None and st.phishing.total.rate("clicked") == 0.3
    assert st.state() is State.PARTIAL  # 30% clicked > 20%
    assert "30% clicked" in st.text() and st.facts()["last_campaign"]["click_rate"] == 0.3


def test_govern_status_shows_training_evidence_and_fulfils_the_obligation(tmp_path: Path) -> None:
    store = _store(tmp_path)
    before = {c.ref: c for c in govern_status(store, ("hipaa", "cpg"), now=NOW).controls}
    assert before["cpg:ESS-04"].state is State.UNKNOWN  # a roster without a record is no evidence
    _train(store, ROSTER, NOW - timedelta(days=20))
    st = govern_status(store, ("hipaa", "cpg"), now=NOW)
    by = {c.ref: c for c in st.controls}
    for ref in ("hipaa:164.308(a)(5)", "cpg:ESS-04"):
        ev = [e for e in by[ref].evidence if e.kind == "training"]
        assert ev and ev[0].state is State.MET and not ev[0].stale, ref
        assert ev[0].facts is not None and ev[0].facts["completion_rate"] == 1.0
        assert "10/10 people current" in ev[0].text and by[ref].sources == {"training"}
    assert by["cpg:ESS-04"].state is State.MET
    assert by["hipaa:164.308(a)(5)(ii)(D)"].state is State.MET  # the credentials lesson's own control
    cov = st.coverage["cpg"]  # training records are counted apart from runs and answers
    assert cov["training_evidence"] >= 1 and cov["automatic_evidence"] == 0 and cov["training_possible"] >= 1
    obl = {o.obligation.id: o for o in st.obligations}["training"]
    assert obl.source == "training completions" and not obl.overdue
    assert obl.last == NOW - timedelta(days=20)
    # a year and a half later: the same records are stale and the obligation overdue
    later = govern_status(store, ("cpg",), now=NOW + timedelta(days=540))
    ess = {c.ref: c for c in later.controls}["cpg:ESS-04"]
    assert ess.stale and ess.state is State.NOT_MET
    assert {o.obligation.id: o for o in later.obligations}["training"].overdue


def test_reminder_files(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _train(store, ROSTER[1:], NOW - timedelta(days=30))
    paths = write_reminders(summary(store, NOW).due, tmp_path / "out", NOW.date())
    assert [p.name for p in paths] == ["reminder-p0.txt"]
    text = paths[0].read_text()
    assert text.startswith("To: p0@example.org\nSubject: Security awareness training due (")
    assert "radguard train take p0 --lesson LESSON" in text and "never taken" in text


def test_migration_down_and_up_again(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from radguard.store.api import _MIGRATIONS

    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    tables = {"training_people", "training_completions", "training_campaigns", "training_phish_results"}
    assert tables <= set(inspect(store.engine).get_table_names())
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004_govern")
    assert not tables & set(inspect(store.engine).get_table_names())
    assert "govern_answers" in inspect(store.engine).get_table_names()
    store.close()
    again = open_store(f"sqlite:///{tmp_path / 'm.db'}")  # brought to the heads again on open
    assert tables <= set(inspect(again.engine).get_table_names())
