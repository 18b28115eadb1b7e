"""The rule catalogue (radguard.rules, ``radguard rules``, docs/rules.md) against the producers' tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radguard import catalog, rules
from radguard.cli.main import main
from radguard.models import Severity

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_rule_ids_unique_across_producers() -> None:
    assert rules.duplicates() == {}
    ids = [r.id for r in rules.all_rules()]
    assert len(ids) == len(set(ids))


def test_every_producer_table_is_collected() -> None:
    from radguard.assess.rules import RuleId as ScanRuleId
    from radguard.inspect.rules import RuleId as ArchiveRuleId
    from radguard.monitor.detections import MODULES

    by = {p: {r.id for r in rules.all_rules() if r.producer is p} for p in rules.Producer}
    assert by[rules.Producer.SCAN] == {r.value for r in ScanRuleId}
    assert by[rules.Producer.ARCHIVE] == {r.value for r in ArchiveRuleId}
    assert by[rules.Producer.MONITOR] == set(MODULES)
    assert by[rules.Producer.GATEWAY] == set()
    gateway = {r.id for r in rules.for_producer("gateway")}
    assert gateway == {"executable-preamble", "trailing-data", "not-dicom", "malformed", "active-content"}


def test_every_control_is_known_to_the_catalog() -> None:
    refs = [c for r in rules.all_rules() for c in r.controls]
    assert refs
    assert catalog.unknown_refs(refs) == []
    assert all(rules.control_title(c) for c in refs)


def test_every_rule_is_complete() -> None:
    for r in rules.all_rules():
        assert r.title and r.remediation and r.controls and r.description, r.id
        assert isinstance(r.severity, Severity)
        assert Path(__file__).resolve().parents[2].joinpath(r.source).is_file(), r.source
        if r.producer is rules.Producer.MONITOR:
            assert r.mitre and r.thresholds and r.profile in ("default", "baseline"), r.id


def test_monitor_thresholds_are_the_detections_defaults() -> None:
    from radguard.monitor.detections import thresholds_for

    for r in rules.for_producer("monitor"):
        defaults = thresholds_for(r.id, {})
        assert {t.name: t.default for t in r.thresholds} == {
            name: getattr(defaults, name) for name in (t.name for t in r.thresholds)}
    brute = rules.get("ae-brute-force")
    assert [(t.name, t.default) for t in brute.thresholds] == [
        ("min_rejections", 5), ("window_seconds", 300.0), ("min_distinct_titles", 3)]
    assert brute.mitre == ("T1110", "T0846")
    burst = rules.get("ransomware-burst")
    assert [t.name for t in burst.thresholds] == ["min_count", "min_share", "window_s"]


def test_docs_rules_md_is_up_to_date() -> None:
    assert DOCS.read_text("utf-8") == rules.markdown(), (
        "docs/rules.md is stale: run `python -m radguard.rules --markdown > docs/rules.md`")
    text = DOCS.read_text("utf-8")
    for r in rules.all_rules():
        assert f"### `{r.id}`" in text


def test_cli_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.rules/1"
    assert doc["producer"] is None
    assert doc["count"] == len(doc["rules"]) == len(rules.all_rules())
    keys = {"id", "producer", "used_by", "severity", "severity_note", "title", "description", "remediation",
            "controls", "thresholds", "thresholds_doc", "mitre", "profile", "gateway_action", "source"}
    for r in doc["rules"]:
        assert set(r) == keys
        assert r["severity"] in {s.value for s in Severity}
        assert all(set(c) == {"ref", "title"} and c["title"] for c in r["controls"])
    assert main(["rules", "--producer", "monitor", "--json"]) == 0
    monitor = json.loads(capsys.readouterr().out)
    assert monitor["producer"] == "monitor" and monitor["count"] == 10
    flood = next(r for r in monitor["rules"] if r["id"] == "association-flood")
    assert flood["thresholds"] == [{"name": "min_associations", "default": 100, "type": "int"},
                                   {"name": "window_seconds", "default": 60.0, "type": "float"}]
    assert main(["rules", "-p", "gateway", "--json"]) == 0
    gateway = json.loads(capsys.readouterr().out)
    assert {r["id"]: r["gateway_action"] for r in gateway["rules"]} == {
        "executable-preamble": "reject", "trailing-data": "alert", "not-dicom": "alert", "malformed": "alert",
        "active-content": "reject"}


def test_cli_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show", "dicom-any-calling-ae", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.rule/1"
    assert doc["rule"]["producer"] == "scan" and doc["rule"]["severity"] == "high"
    assert doc["rule"]["controls"][0] == {"ref": "hipaa:164.312(a)(1)", "title": "Access control"}
    assert main(["rules", "show", "pixel-tampered"]) == 0
    out = capsys.readouterr().out
    assert "severity: critical" in out and "hipaa:164.312(c)(1)  Integrity" in out


def test_cli_errors_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show", "no-such-rule"]) == 2
    assert main(["rules", "--producer", "nope"]) == 2
    err = capsys.readouterr()
    assert err.out == ""
    assert "unknown rule 'no-such-rule'" in err.err and "unknown producer 'nope'" in err.err


def test_golden_findings_name_catalogued_rules() -> None:
    """Findings the monitor's golden captures expect, and the archive verdicts inside their records."""
    known = {r.id for r in rules.all_rules()}
    archive = {r.id for r in rules.all_rules() if r.producer is rules.Producer.ARCHIVE}
    golden = sorted((DOCS.parents[1] / "tests" / "captures" / "golden").glob("*.json"))
    assert golden
    seen: set[str] = set()
    for path in golden:
        doc = json.loads(path.read_text("utf-8"))
        seen |= {f["rule"] for f in doc["findings"]}
        for record in doc["records"]:
            for verdict in record.get("inspection") or ():
                assert verdict["rule"] in archive | {"not-inspected"}, (path.name, verdict)
    assert seen and seen <= known, seen - known
