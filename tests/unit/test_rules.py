"""The rulebook (radguard.rulebook, ``radguard rules``, docs/rules.md) against the producers' rule tables."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from radguard import catalog, rulebook
from radguard.cli.main import main
from radguard.models import Rule, Severity
from radguard.rulebook import Producer

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "rules.md"
#: the packages whose modules emit findings (the gateway applies the inspect rules)
PRODUCERS = ("radguard.assess", "radguard.archive", "radguard.inspect", "radguard.monitor", "radguard.gateway",
             "radguard.policy")


def producer_modules() -> list[ModuleType]:
    out = []
    for name in PRODUCERS:
        package = importlib.import_module(name)
        out.append(package)
        for info in pkgutil.walk_packages(package.__path__, name + "."):
            out.append(importlib.import_module(info.name))
    return out


def declared_rules() -> dict[str, list[tuple[str, Rule]]]:
    """rule id -> (module, Rule) for every module-level Rule a producer module holds."""
    found: dict[str, list[tuple[str, Rule]]] = {}
    for module in producer_modules():
        for value in vars(module).values():
            if isinstance(value, Rule):
                found.setdefault(value.id, []).append((module.__name__, value))
    return found


def test_rule_ids_unique_across_tables() -> None:
    ids = [e.id for e in rulebook.entries()]
    assert len(ids) == len(set(ids)) > 30
    for table in rulebook.TABLES:
        assert rulebook.load_table(table), table


def test_every_rule_a_producer_can_emit_is_in_a_table() -> None:
    declared = declared_rules()
    assert set(declared) == {e.id for e in rulebook.entries()}, "a producer's rule is missing from the tables, " \
        "or a table row is emitted by no producer"
    for rule_id, holders in declared.items():
        entry = rulebook.entry(rule_id)
        assert all(rule is entry.rule for _, rule in holders), rule_id
        assert entry.module in {m for m, _ in holders}, (rule_id, entry.module, holders)


def test_no_rule_is_declared_in_code() -> None:
    """Rules are data: no ``Rule(...)`` call in src/ outside the rulebook."""
    calls = []
    for path in sorted((ROOT / "src" / "radguard").rglob("*.py")):
        if path.name == "rulebook.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Rule":
                calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not calls, calls


def test_rulebook_imports_no_producer() -> None:
    code = ("import json, sys, radguard.rulebook as rb; rb.entries(); rb.markdown(); "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('radguard'))))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = json.loads(out)
    assert "radguard.rulebook" in loaded
    assert not [m for m in loaded if m.startswith((*PRODUCERS, "radguard.cli", "radguard.range"))], loaded


def test_every_producer_table_is_collected() -> None:
    from radguard.inspect.checks import MODULES as CHECKS
    from radguard.monitor.detections import MODULES

    by = {p: {e.id for e in rulebook.entries() if e.producer is p} for p in Producer}
    assert by[Producer.MONITOR] == set(MODULES)
    assert by[Producer.GATEWAY] == set()
    assert {"executable-preamble", "header-tampered", "unrecoverable", "ransomware-burst"} <= by[Producer.ARCHIVE]
    assert {"dicom-any-called-ae", "tls-weak", "web-cleartext"} <= by[Producer.SCAN]
    gateway = {e.id for e in rulebook.for_producer("gateway")}
    assert gateway - {"honeytoken-touched"} == {m.RULE.id for m in CHECKS} == {
        "executable-preamble", "trailing-data", "not-dicom", "malformed", "active-content"}
    assert by[Producer.DECOY] == {"decoy-touched"}


def test_every_control_is_known_to_the_catalog() -> None:
    """Every rule in every table cites at least one control, each known to the catalog."""
    for e in rulebook.entries():
        assert e.rule.controls, e.id
        assert catalog.unknown_refs(e.rule.controls) == [], (e.table, e.id)
        assert all(rulebook.control_title(c) for c in e.rule.controls), e.id


def test_every_rule_is_complete() -> None:
    for e in rulebook.entries():
        r = e.rule
        assert r.title and r.remediation and r.controls and r.when, r.id
        assert isinstance(r.severity, Severity)
        assert ROOT.joinpath(e.source).is_file(), e.source
        assert ROOT.joinpath(e.table).is_file(), e.table
        if e.producer is Producer.MONITOR:
            assert r.attack and r.thresholds and e.profile in ("default", "baseline"), r.id


def test_table_errors_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "radguard" / "x"
    bad.mkdir(parents=True)
    row = ('producer = "scan"\nmodule = "m"\n[[rule]]\nid = "x"\nseverity = "high"\ntitle = "t"\nwhen = "w"\n'
           'remediation = "r"\ncontrols = ["hipaa:164.312(b)"]\n')
    (bad / "ok.toml").write_text(row)
    (bad / "typo.toml").write_text(row + 'remedation = "r"\n')
    (bad / "missing.toml").write_text(row.replace('title = "t"\n', ""))
    monkeypatch.setattr(rulebook, "ROOT", str(tmp_path / "radguard"))
    assert [e.id for e in rulebook.load_table("x/ok.toml")] == ["x"]
    with pytest.raises(ValueError, match="unknown keys"):
        rulebook.load_table("x/typo.toml")
    with pytest.raises(ValueError, match="missing title"):
        rulebook.load_table("x/missing.toml")


def _field_types(cls: type) -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(cls)}


def _assert_thresholds_match(rule_id: str, cls: type) -> None:
    entry = rulebook.entry(rule_id)
    default = cls()
    types = _field_types(cls)
    assert list(types) == [t.name for t in entry.thresholds], rule_id
    for t in entry.thresholds:
        assert getattr(default, t.name) == t.default, (rule_id, t.name)
        assert types[t.name].startswith(t.type), (rule_id, t.name, types[t.name], t.type)


def test_thresholds_dataclasses_take_their_defaults_from_the_tables() -> None:
    from radguard.archive.audit import BurstThresholds
    from radguard.monitor.detections import load, thresholds_for

    for e in rulebook.for_producer("monitor"):
        _assert_thresholds_match(e.id, load(e.id).Thresholds)
        assert dataclasses.asdict(thresholds_for(e.id, {})) == dict(e.rule.thresholds)
    _assert_thresholds_match("ransomware-burst", BurstThresholds)
    brute = rulebook.entry("ae-brute-force")
    assert [(t.name, t.default) for t in brute.thresholds] == [
        ("min_rejections", 5), ("window_seconds", 300.0), ("min_distinct_titles", 3)]
    assert brute.rule.attack == ("T1110", "T0846")
    assert [t.name for t in rulebook.entry("ransomware-burst").thresholds] == ["min_count", "min_share", "window_s"]


def test_profiles_and_modules_agree_with_the_detection_registry() -> None:
    from radguard.monitor.detections import BASELINE_PROFILE, DEFAULT_PROFILE, MODULES

    for e in rulebook.for_producer("monitor"):
        assert e.module == f"radguard.monitor.detections.{MODULES[e.id]}"
        assert e.profile == ("default" if e.id in DEFAULT_PROFILE else "baseline")
        assert (e.id in BASELINE_PROFILE) is (e.profile == "baseline")


def test_gateway_actions_are_the_gateway_defaults() -> None:
    from radguard.gateway.addons.inspection import kind_of
    from radguard.gateway.config import InspectionConfig

    for e in rulebook.entries():
        if Producer.GATEWAY in e.used_by:
            assert e.gateway_action == str(getattr(InspectionConfig(), kind_of(e.id))), e.id
        else:
            assert e.gateway_action is None, e.id


def test_rule_finding_shape() -> None:
    brute = rulebook.rule("ae-brute-force")
    f = brute.finding("10.0.0.1:104", {"rejected": 9}, severity=Severity.CRITICAL)
    assert (f.rule, f.severity, f.title, f.controls) == (brute.id, Severity.CRITICAL, brute.title, brute.controls)
    assert f.evidence == {"rejected": 9, "mitre": ["T1110", "T0846"]}
    pixel = rulebook.rule("pixel-tampered")
    g = pixel.finding("a.dcm", {"frames": [1]}, title="other")
    assert g.evidence == {"frames": [1]} and g.title == "other" and g.remediation == pixel.remediation


def test_docs_rules_md_is_up_to_date() -> None:
    assert DOCS.read_text("utf-8") == rulebook.markdown(), (
        "docs/rules.md is stale: run `make docs` (python -m radguard.rulebook --markdown > docs/rules.md)")
    text = DOCS.read_text("utf-8")
    for e in rulebook.entries():
        assert f"### `{e.id}`" in text


def test_cli_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.rules/1"
    assert doc["producer"] is None
    assert doc["count"] == len(doc["rules"]) == len(rulebook.entries())
    keys = {"id", "producer", "used_by", "severity", "severity_note", "title", "description", "remediation",
            "controls", "thresholds", "thresholds_doc", "mitre", "profile", "gateway_action", "source", "table"}
    for r in doc["rules"]:
        assert set(r) == keys
        assert r["severity"] in {s.value for s in Severity}
        assert all(set(c) == {"ref", "title"} and c["title"] for c in r["controls"])
    assert main(["rules", "--producer", "monitor", "--json"]) == 0
    monitor = json.loads(capsys.readouterr().out)
    from radguard.monitor.detections import MODULES

    assert monitor["producer"] == "monitor" and monitor["count"] == len(MODULES)
    flood = next(r for r in monitor["rules"] if r["id"] == "association-flood")
    assert flood["thresholds"] == [{"name": "min_associations", "default": 100, "type": "int"},
                                   {"name": "window_seconds", "default": 60.0, "type": "float"}]
    assert flood["table"] == "src/radguard/monitor/detections/rules.toml"
    assert main(["rules", "-p", "gateway", "--json"]) == 0
    gateway = json.loads(capsys.readouterr().out)
    assert {r["id"]: r["gateway_action"] for r in gateway["rules"]} == {
        "executable-preamble": "reject", "trailing-data": "reject", "not-dicom": "reject", "malformed": "reject",
        "active-content": "reject", "honeytoken-touched": "alert"}


def test_cli_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show", "dicom-any-calling-ae", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.rule/1"
    assert doc["rule"]["producer"] == "scan" and doc["rule"]["severity"] == "high"
    assert doc["rule"]["controls"][0] == {"ref": "hipaa:164.312(a)(1)", "title": "Access control"}
    assert main(["rules", "show", "pixel-tampered"]) == 0
    out = capsys.readouterr().out
    assert "severity: critical" in out and "hipaa:164.312(c)(1)  Integrity" in out
    assert "table: src/radguard/archive/rules.toml" in out
    assert main(["rules", "show", "bulk-retrieve"]) == 0
    out = capsys.readouterr().out
    assert "factor = 3.0 (float)" in out and "profile: baseline" in out and "MITRE ATT&CK: T1213, T1030" in out


def test_cli_errors_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show", "no-such-rule"]) == 2
    assert main(["rules", "--producer", "nope"]) == 2
    err = capsys.readouterr()
    assert err.out == ""
    assert "unknown rule 'no-such-rule'" in err.err and "unknown producer 'nope'" in err.err


def test_golden_findings_name_catalogued_rules() -> None:
    """Findings the monitor's golden captures expect, and the archive verdicts inside their records."""
    known = {e.id for e in rulebook.entries()}
    archive = {e.id for e in rulebook.entries() if e.producer is Producer.ARCHIVE}
    golden = sorted((ROOT / "tests" / "captures" / "golden").glob("*.json"))
    assert golden
    seen: set[str] = set()
    for path in golden:
        doc = json.loads(path.read_text("utf-8"))
        seen |= {f["rule"] for f in doc["findings"]}
        for record in doc["records"]:
            for verdict in record.get("inspection") or ():
                assert verdict["rule"] in archive | {"not-inspected"}, (path.name, verdict)
    assert seen and seen <= known, seen - known
