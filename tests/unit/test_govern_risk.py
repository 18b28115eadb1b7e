"""The SP 800-30 risk register: scenarios seeded from findings and answers when read, decisions kept,
residual risk from the treatment, the heat map, snapshots for the trend."""

from __future__ import annotations

from pathlib import Path

import pytest

from radguard.errors import UsageError
from radguard.govern import answers, risk
from radguard.govern.risk import Level, Treatment, TreatmentStatus, risk_level
from radguard.models import Asset, Finding, Severity
from radguard.report.plots import risk_heatmap
from radguard.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    run = s.start_run("scan", {})
    run.add_assets([Asset(kind="dicom", target="10.0.0.5:104")])
    run.add_findings([
        Finding(rule="known-vulnerable-version", severity=Severity.CRITICAL, title="t", target="10.0.0.5:104",
                evidence={}, remediation="r", controls=("hipaa:164.308(a)(1)(ii)(A)",)),
        Finding(rule="dicom-open-query", severity=Severity.HIGH, title="t", target="10.0.0.5:104", evidence={},
                remediation="r", controls=("hipaa:164.312(a)(1)",)),
    ])
    run.finish()
    audit = s.start_run("audit", {})
    audit.add_findings([Finding(rule="pixel-tampered", severity=Severity.CRITICAL, title="t",
                                target="/archive/1.dcm", evidence={}, remediation="r",
                                controls=("hipaa:164.312(c)(1)",))])
    audit.finish()
    return s


def test_the_800_30_matrix() -> None:
    assert risk_level(Level.VERY_HIGH, Level.VERY_HIGH) is Level.VERY_HIGH
    assert risk_level(Level.MODERATE, Level.MODERATE) is Level.MODERATE
    assert risk_level(Level.MODERATE, Level.HIGH) is Level.MODERATE
    assert risk_level(Level.LOW, Level.VERY_HIGH) is Level.MODERATE
    assert risk_level(Level.VERY_HIGH, Level.VERY_LOW) is Level.VERY_LOW
    assert Level.parse("Very High") is Level.VERY_HIGH
    with pytest.raises(ValueError):
        Level.parse("extreme")


def test_scenarios_are_seeded_from_findings_when_read(store: Store) -> None:
    reg = {r.key: r for r in risk.register(store)}
    rw = reg["ransomware:10.0.0.5"]
    assert rw.likelihood is Level.VERY_HIGH and rw.impact is Level.VERY_HIGH and rw.inherent is Level.VERY_HIGH
    assert any("known-vulnerable-version" in e for e in rw.evidence)
    assert reg["pacs-exploitation:10.0.0.5"].likelihood is Level.VERY_HIGH
    assert reg["exfiltration:10.0.0.5"].likelihood is Level.HIGH
    assert reg["data-manipulation:image archive"].inherent is Level.VERY_HIGH
    assert rw.treatment is Treatment.NONE and rw.residual is rw.inherent and rw.id.startswith("R-")
    # worst first
    levels = [r.residual for r in risk.register(store)]
    assert levels == sorted(levels, reverse=True)


def test_answers_seed_scenarios_on_their_scope(store: Store) -> None:
    aid = answers.start_assessment(store, "pm", "interactive")
    answers.save_answer(store, aid, "physical.server-room", "no", "pm")
    answers.save_answer(store, aid, "physical.modality-rooms", "yes", "pm")
    reg = {r.key: r for r in risk.register(store)}
    phys = reg["physical:imaging rooms"]
    assert phys.likelihood is Level.HIGH and phys.evidence == ("answer physical.server-room = no",)


def test_decisions_are_kept_and_lower_residual_risk(store: Store) -> None:
    rid = next(r.id for r in risk.register(store) if r.key == "ransomware:10.0.0.5")
    r = risk.edit(store, rid, "ciso", treatment="mitigate", owner="PACS admin", due="2027-01-31",
                  status="in-progress", note="patch to fixed version")
    assert r.treatment is Treatment.MITIGATE and r.owner == "PACS admin" and r.residual_likelihood is Level.HIGH
    r = risk.edit(store, "ransomware:10.0.0.5", "ciso", status="done")
    assert r.status is TreatmentStatus.DONE and r.residual_likelihood is Level.MODERATE
    assert r.residual is Level.HIGH and r.edited_by == "ciso" and r.note == "patch to fixed version"
    r = risk.edit(store, rid, "ciso", residual_likelihood="low")
    assert r.residual is Level.MODERATE
    for bad in ({"treatment": "ignore"}, {"due": "soon"}, {"status": "finished"}, {"impact": "huge"}):
        with pytest.raises(UsageError):
            risk.edit(store, rid, "x", **bad)
    with pytest.raises(UsageError, match="no risk"):
        risk.edit(store, "R-000000", "x", owner="y")


def test_a_decision_outlives_its_evidence(store: Store) -> None:
    risk.edit(store, "ransomware:10.0.0.5", "ciso", treatment="mitigate", status="done")
    run = store.start_run("scan", {})
    run.add_assets([Asset(kind="dicom", target="10.0.0.5:104")])
    run.finish()  # the next scan finds nothing
    reg = {r.key: r for r in risk.register(store)}
    assert not reg["ransomware:10.0.0.5"].current and reg["ransomware:10.0.0.5"].treatment is Treatment.MITIGATE
    assert "pacs-exploitation:10.0.0.5" not in reg


def test_heat_map_and_trend(store: Store) -> None:
    reg = risk.register(store)
    cells = risk.heat_cells(reg)
    assert cells[(4, 4)] >= 2
    svg = risk_heatmap(cells, [[int(c) for c in row] for row in risk.RISK_MATRIX], title="Inherent risk")
    assert svg.startswith("<svg") and "very high" in svg and "likelihood" in svg
    risk.snapshot(store, reg, "test")
    risk.edit(store, "ransomware:10.0.0.5", "ciso", treatment="avoid", status="done")
    risk.snapshot(store, risk.register(store), "test")
    t = risk.trend(store)
    assert len(t) == 2 and t[0]["residual"]["very-high"] == t[1]["residual"]["very-high"] + 1
