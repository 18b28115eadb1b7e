"""HPH CPG catalog and the crosswalks HIPAA <-> CSF 2.0 <-> HICP <-> CPG: ids unique, every target
exists, every HIPAA control and CPG goal is mapped; ``controls list --framework cpg --json``."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources

import pytest

from radguard.catalog import controls_for, is_known, load
from radguard.catalog.crosswalk import all_refs, crosswalks, related
from radguard.cli.main import main


def test_cpg_counts() -> None:
    goals = controls_for("cpg", "goal")
    assert len(goals) == 20
    assert Counter(g.parent for g in goals) == {"ESS": 10, "ENH": 10}
    assert [g.id for g in goals[:10]] == [f"ESS-{i:02d}" for i in range(1, 11)]
    assert load("cpg").controls["ESS-03"].title == "Multifactor Authentication"
    assert load("cpg").controls["ENH-01"].title == "Asset Inventory"
    assert "January 2024" in load("cpg").edition


def test_crosswalk_files_have_provenance_and_unique_sources() -> None:
    folder = resources.files("radguard.catalog").joinpath("crosswalks")
    names = sorted(e.name for e in folder.iterdir() if e.name.endswith(".json"))
    assert names == ["cpg.json", "hipaa.json"]
    for name in names:
        raw = json.loads(folder.joinpath(name).read_text("utf-8"))
        for key in ("name", "from", "edition", "source", "maps"):
            assert raw[key], f"{name}: {key} missing"
        for cid, targets in raw["maps"].items():
            for fw, ids in targets.items():
                assert fw != raw["from"], f"{name}: {cid} maps to its own framework"
                assert len(ids) == len(set(ids)), f"{name}: {cid} -> {fw} has duplicates"
    assert len(crosswalks()) == 2


def test_every_crosswalk_ref_exists() -> None:
    unknown = sorted({f"{name}: {ref}" for name, ref in all_refs() if not is_known(ref)})
    assert unknown == []


@pytest.mark.parametrize(("framework", "kinds"), [("hipaa", None), ("cpg", "goal")])
def test_every_control_is_mapped(framework: str, kinds: str | None) -> None:
    mapped = {ref for cw in crosswalks() for ref in cw.maps}
    missing = [c.ref for c in controls_for(framework, kinds) if c.ref not in mapped]
    assert missing == []


def test_related_reads_both_ways() -> None:
    assert "hipaa:164.312(e)(2)(ii)" in related("csf:PR.DS-02")
    assert "cpg:ESS-05" in related("csf:PR.DS-02", "cpg")
    assert "csf:PR.DS-02" in related("cpg:ESS-05")
    assert related("csf:nope") == ()


def test_cli_controls_list_cpg_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["controls", "list", "--framework", "cpg", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.controls/1"
    assert [c["framework"] for c in doc["catalogs"]] == ["cpg"]
    goals = [c for c in doc["controls"] if c["kind"] == "goal"]
    assert len(goals) == 20 and goals[0]["ref"] == "cpg:ESS-01"


def test_cli_controls_list_csf_is_exactly_the_106_subcategories(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["controls", "list", "--framework", "csf", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    kinds = Counter(c["kind"] for c in doc["controls"])
    assert kinds == {"function": 6, "category": 22, "subcategory": 106}
