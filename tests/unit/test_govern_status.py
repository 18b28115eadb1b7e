"""Control status from evidence, with findings and runs written through the store API: met only with
positive evidence from a run that tested the control, not met / partial from findings, unknown where
nothing covers it; freshness and obligations with dates; answers files checked whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from radguard.errors import UsageError
from radguard.govern import answers
from radguard.govern.evidence import rule_controls, rules_tested_by
from radguard.govern.obligations import obligation_status, parse_intervals, record
from radguard.govern.questions import State, template
from radguard.govern.status import govern_status
from radguard.models import Asset, Finding, Severity
from radguard.store import Store, open_store
from radguard.store.schema import Run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "govern-answers.yaml"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'g.db'}")


def _scan(store: Store, findings: list[Finding], *, when: datetime | None = None, intrusive: bool = False) -> int:
    run = store.start_run("scan", {"intrusive": intrusive})
    run.add_assets([Asset(kind="dicom", target="127.0.0.1:11112", product="DCMTK", version="3.6.7")])
    run.add_findings(findings)
    run.finish()
    if when is not None:
        with store.session() as s:
            s.execute(update(Run).where(Run.id == run.id).values(started=when, finished=when))
            s.commit()
    return run.id


def _finding(rule: str, severity: Severity, controls: tuple[str, ...]) -> Finding:
    return Finding(rule=rule, severity=severity, title=rule, target="127.0.0.1:11112", evidence={},
                   remediation="fix", controls=controls)


def _state(store: Store, ref: str, **kw: object) -> State:
    st = govern_status(store, **kw)  # type: ignore[arg-type]
    return next(c for c in st.controls if c.ref == ref).state


def test_the_rule_adapter_sees_every_producer() -> None:
    refs = rule_controls()
    assert {r.producer for r in refs} >= {"scan", "archive", "monitor"}
    assert any("hipaa:164.312(e)(1)" in r.controls for r in refs)


def test_nothing_in_the_store_is_unknown(store: Store) -> None:
    st = govern_status(store)
    assert {c.state for c in st.controls} == {State.UNKNOWN}
    assert all(o.overdue for o in st.obligations)


def test_a_clean_scan_is_positive_evidence_and_findings_are_negative(store: Store) -> None:
    _scan(store, [_finding("dicom-cleartext", Severity.HIGH, ("hipaa:164.312(e)(1)", "csf:PR.DS-02")),
                  _finding("dicom-any-called-ae", Severity.MEDIUM, ("hipaa:164.312(a)(1)", "csf:PR.AA-05"))])
    st = govern_status(store)
    by = {c.ref: c for c in st.controls}
    assert by["hipaa:164.312(e)(1)"].state is State.NOT_MET
    ev = by["hipaa:164.312(e)(1)"].evidence
    assert any(e.kind == "finding" and e.rules == ("dicom-cleartext",) and e.run_kind == "scan" for e in ev)
    # access control: a medium finding, while other scan rules mapping to it passed -> partial
    assert by["hipaa:164.312(a)(1)"].state is State.PARTIAL
    # known-vulnerable-version passed: risk analysis has positive evidence from the scan run
    ra = by["hipaa:164.308(a)(1)(ii)(A)"]
    assert ra.state is State.MET and ra.evidence[0].kind == "run" and "known-vulnerable-version" in ra.evidence[0].rules
    # no scan rule covers the physical safeguards
    assert by["hipaa:164.310(a)(1)"].state is State.UNKNOWN
    # HIPAA and CSF controls never borrow through a crosswalk
    assert by["hipaa:164.308(a)(3)"].state is State.UNKNOWN
    # a CPG goal takes the evidence of the controls it maps to
    assert by["cpg:ESS-05"].state is State.NOT_MET and by["cpg:ESS-05"].evidence[0].via
    # a standard with specifications none of which has evidence stays unknown; rolled-up parents say so
    assert by["hipaa:164.310(d)(1)"].state is State.UNKNOWN
    assert st.coverage["hipaa"]["automatic_evidence"] > 0 and st.coverage["hipaa"]["answer_evidence"] == 0


def test_intrusive_rules_are_tested_only_by_an_intrusive_scan(store: Store) -> None:
    _scan(store, [])
    run = store.latest_run("scan")
    assert run is not None
    ids = {r.id for r in rules_tested_by(run)}
    assert "dicom-cleartext" in ids and "dicom-open-store" not in ids
    assert _state(store, "hipaa:164.308(a)(5)(ii)(D)") is State.UNKNOWN  # only web-default-credentials maps there
    _scan(store, [], intrusive=True)
    assert _state(store, "hipaa:164.308(a)(5)(ii)(D)") is State.MET


def test_a_scan_that_found_no_host_tested_nothing(store: Store) -> None:
    run = store.start_run("scan", {})
    run.finish()
    assert _state(store, "hipaa:164.312(e)(1)") is State.UNKNOWN


def test_only_the_latest_run_of_a_kind_counts(store: Store) -> None:
    _scan(store, [_finding("dicom-cleartext", Severity.HIGH, ("hipaa:164.312(e)(1)",))])
    _scan(store, [])
    assert _state(store, "hipaa:164.312(e)(2)(ii)") is State.MET
    # the standard is met only when every specification is: (e)(2)(i) has no evidence
    assert _state(store, "hipaa:164.312(e)(1)") is State.PARTIAL


def test_evidence_older_than_its_obligation_is_stale(store: Store) -> None:
    _scan(store, [], when=datetime.now(UTC) - timedelta(days=200))
    st = govern_status(store)
    c = next(c for c in st.controls if c.ref == "hipaa:164.312(e)(2)(ii)")
    assert c.state is State.MET and c.stale
    scan_ob = next(o for o in st.obligations if o.obligation.id == "vulnerability-scan")
    assert scan_ob.overdue and scan_ob.obligation.proposed
    st = govern_status(store, intervals=parse_intervals(["vulnerability-scan=365"]))
    assert not next(c for c in st.controls if c.ref == "hipaa:164.312(e)(2)(ii)").stale
    assert not next(o for o in st.obligations if o.obligation.id == "vulnerability-scan").overdue


def test_answers_feed_control_status_and_obligations(store: Store) -> None:
    who, parsed = answers.parse_answers_file(EXAMPLE)
    assert who == "Practice manager (example)" and parsed["physical.modality-rooms"] == ("yes", "")
    aid = answers.import_answers(store, parsed, "pm")
    by = {c.ref: c for c in govern_status(store).controls}
    assert by["hipaa:164.310(c)"].state is State.MET
    assert by["hipaa:164.310(c)"].evidence[0].question == "physical.modality-rooms"
    assert by["hipaa:164.310(a)(1)"].state is State.PARTIAL  # (a)(2)(i) and (iv) have no answer
    assert by["hipaa:164.314(a)(2)(i)"].state is State.MET
    assert by["hipaa:164.314(a)(1)"].state is State.PARTIAL  # (a)(2)(ii) and (iii) have no answer
    assert by["cpg:ESS-03"].state is State.NOT_MET  # no MFA on the VPN
    obls = {o.obligation.id: o for o in obligation_status(store)}
    assert obls["risk-analysis"].source == "self-assessment" and not obls["risk-analysis"].overdue
    assert obls["ir-exercise"].overdue  # "never"
    assert obls["training"].source == "answer workforce.last-training"
    # versioned: a new answer wins, the old one stays in the history
    answers.save_answer(store, aid, "physical.modality-rooms", "no", "auditor")
    assert _state(store, "hipaa:164.310(c)") is State.NOT_MET
    assert [a.value for a in answers.history(store, "physical.modality-rooms")] == ["yes", "no"]
    assert answers.history(store, "physical.modality-rooms")[1].who == "auditor"


def test_a_record_fulfils_an_obligation(store: Store) -> None:
    record(store, "penetration-test", datetime.now(UTC) - timedelta(days=10), "ciso", "external test",
           {"file": "report.pdf"})
    obls = {o.obligation.id: o for o in obligation_status(store)}
    assert not obls["penetration-test"].overdue and obls["penetration-test"].source.startswith("record #")
    with pytest.raises(UsageError, match="unknown obligation"):
        record(store, "nope", datetime.now(UTC), "x")
    # a tabletop exercise stored by `radguard exercise run` fulfils the incident-response exercise
    store.start_run("exercise", {"scenario": "ransomware-night"}).finish(summary={"score": 1})
    obls = {o.obligation.id: o for o in obligation_status(store)}
    assert not obls["ir-exercise"].overdue and obls["ir-exercise"].source.endswith("(exercise)")
    with pytest.raises(UsageError, match="OBLIGATION=DAYS"):
        parse_intervals(["training"])


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("answers:\n  physical.modality-rooms: yes\n  nope.question: yes\n", 3, "unknown question 'nope.question'"),
        ("answers:\n  physical.modality-rooms: maybe\n", 2, "expected one of yes, partial, no"),
        ("answers:\n  backup.last-restore-test: last spring\n", 2, "expected a date"),
        ("answers:\n  physical.modality-rooms: yes\n  physical.modality-rooms: no\n", 3, "answered twice"),
        ("answers:\n  a: [unclosed\n", 3, "not valid YAML"),
        ("who: x\nanswer:\n  a: b\n", 2, "unknown key 'answer'"),
        ("answers:\n  legacy.unsupported-count: several\n", 2, "expected a number"),
    ],
)
def test_a_malformed_answers_file_names_its_line_and_writes_nothing(
        tmp_path: Path, store: Store, text: str, line: int, message: str) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        answers.parse_answers_file(path)
    assert str(err.value).startswith(f"{path}:{line}: ") and message in str(err.value)
    assert "\n" not in str(err.value)
    assert answers.latest_answers(store) == {}


def test_every_question_cites_known_controls_and_answers_normalise() -> None:
    from radguard.catalog import is_known

    tpl = template()
    assert len(tpl.sections) >= 9 and len(tpl.questions) >= 20
    assert all(is_known(ref) for q in tpl.questions.values() for ref in q.controls)
    q = tpl.questions["backup.last-restore-test"]
    assert q.state(q.normalise("2020-01-01")) is State.NOT_MET
    assert q.state(q.normalise(datetime.now(UTC).date().isoformat())) is State.MET
