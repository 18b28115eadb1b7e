"""Control catalogs: every file loads, ids are unique, parents exist, counts match the sources,
and every control reference cited anywhere in ``src/radguard`` is known to a catalog."""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from radguard import catalog
from radguard.catalog import children, controls_for, frameworks, is_known, load, resolve, unknown_refs
from radguard.cli.main import main

SRC = Path(catalog.__file__).resolve().parents[1]  # src/radguard
CATALOG_DIR = Path(catalog.__file__).resolve().parent
REF_RE = re.compile(r"^(hipaa|csf|hicp|dicom|cpg):\S+$")
QUOTED_REF_RE = re.compile(r"""["']((?:hipaa|csf|hicp|dicom|cpg):[^"'\s]+)["']""")

KINDS = {
    "hipaa": {"standard", "implementation-specification"},
    "csf": {"function", "category", "subcategory"},
    "hicp": {"practice", "sub-practice"},
    "dicom": {"annex", "profile"},
    "cpg": {"group", "goal"},
}


def _raw(framework: str) -> dict[str, Any]:
    text = resources.files("radguard.catalog").joinpath(f"{framework}.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def test_expected_frameworks_present() -> None:
    assert set(frameworks()) == {"hipaa", "csf", "hicp", "dicom", "cpg"}
    assert (CATALOG_DIR / "README.md").is_file()


@pytest.mark.parametrize("framework", sorted(KINDS))
def test_file_loads_with_provenance(framework: str) -> None:
    raw = _raw(framework)
    assert raw["framework"] == framework
    for key in ("name", "edition", "source"):
        assert isinstance(raw[key], str) and raw[key].strip(), f"{framework}.json: {key} missing"
    cat = load(framework)
    assert cat.framework == framework and cat.edition == raw["edition"]
    assert len(cat.controls) == len(raw["controls"])


@pytest.mark.parametrize("framework", sorted(KINDS))
def test_ids_unique_parents_exist_kinds_known(framework: str) -> None:
    controls = _raw(framework)["controls"]
    dupes = [i for i, n in Counter(c["id"] for c in controls).items() if n > 1]
    assert dupes == [], f"{framework}.json: duplicate ids {dupes}"
    ids = {c["id"] for c in controls}
    orphans = [(c["id"], c["parent"]) for c in controls if c.get("parent") is not None and c["parent"] not in ids]
    assert orphans == [], f"{framework}.json: parents missing {orphans}"
    bad_kinds = sorted({c.get("kind") for c in controls} - KINDS[framework])
    assert bad_kinds == [], f"{framework}.json: unexpected kinds {bad_kinds}"
    assert all(isinstance(c["title"], str) and c["title"].strip() for c in controls)
    assert all(":" not in c["id"] and " " not in c["id"] for c in controls)


# --- NIST CSF 2.0 (CSWP 29, Appendix A) ------------------------------------------------------------

CSF_STARTER = (
    "GV.RM-01", "ID.AM-01", "ID.AM-02", "ID.RA-01", "PR.AA-01", "PR.AA-03", "PR.AA-05", "PR.DS-01",
    "PR.DS-02", "PR.DS-11", "PR.PS-02", "DE.CM-01", "DE.AE-02", "RS.MI-01", "RC.RP-03",
)


def test_csf_core_counts() -> None:
    assert [c.id for c in controls_for("csf", "function")] == ["GV", "ID", "PR", "DE", "RS", "RC"]
    assert len(controls_for("csf", "category")) == 22
    assert len(controls_for("csf", "subcategory")) == 106
    per_function = Counter(c.id.split(".")[0] for c in controls_for("csf", "subcategory"))
    assert per_function == {"GV": 31, "ID": 21, "PR": 22, "DE": 11, "RS": 13, "RC": 8}


def test_csf_ids_and_hierarchy() -> None:
    for c in controls_for("csf", "category"):
        assert re.fullmatch(r"(GV|ID|PR|DE|RS|RC)\.[A-Z]{2}", c.id) and c.parent == c.id.split(".")[0]
        assert c.text, f"category {c.id} has no statement"
    for c in controls_for("csf", "subcategory"):
        assert re.fullmatch(r"(GV|ID|PR|DE|RS|RC)\.[A-Z]{2}-\d{2}", c.id), c.id
        assert c.parent == c.id.split("-")[0]
    assert [c.id for c in children("csf:PR.DS")] == ["PR.DS-01", "PR.DS-02", "PR.DS-10", "PR.DS-11"]
    # withdrawn CSF 1.1 identifiers are not part of 2.0
    for gone in ("ID.AM-06", "PR.AC-01", "PR.DS-05", "DE.CM-04", "PR.IP-04", "RS.RP-01"):
        assert not is_known(f"csf:{gone}")


def test_csf_starter_ids_kept() -> None:
    for cid in CSF_STARTER:
        assert is_known(f"csf:{cid}"), cid
    assert resolve("csf:PR.DS-02").title == (
        "The confidentiality, integrity, and availability of data-in-transit are protected"
    )
    assert resolve("csf:DE.CM-09").title.startswith("Computing hardware and software, runtime environments")


# --- HIPAA Security Rule (45 CFR 164.308/.310/.312/.316) ---------------------------------------------


def test_hipaa_structure() -> None:
    standards = controls_for("hipaa", "standard")
    specs = controls_for("hipaa", "implementation-specification")
    assert len(standards) == 22 and len(specs) == 43
    assert all(s.required is None and s.parent is None for s in standards)
    assert all(isinstance(s.required, bool) for s in specs)
    assert all(re.fullmatch(r"164\.3(08|10|12|14|16)(\([a-zA-Z0-9]+\))+", c.id) for c in standards + specs)
    std_ids = {s.id for s in standards}
    assert all(s.parent in std_ids for s in specs)


@pytest.mark.parametrize(
    ("ref", "required"),
    [
        ("hipaa:164.308(a)(1)(ii)(A)", True),  # risk analysis
        ("hipaa:164.308(a)(5)(ii)(B)", False),  # protection from malicious software
        ("hipaa:164.308(a)(7)(ii)(A)", True),  # data backup plan
        ("hipaa:164.308(a)(7)(ii)(D)", False),  # testing and revision procedures
        ("hipaa:164.310(d)(2)(i)", True),  # disposal
        ("hipaa:164.310(d)(2)(iv)", False),  # data backup and storage
        ("hipaa:164.312(a)(2)(i)", True),  # unique user identification
        ("hipaa:164.312(a)(2)(iv)", False),  # encryption and decryption
        ("hipaa:164.312(c)(2)", False),  # mechanism to authenticate ePHI
        ("hipaa:164.312(e)(2)(ii)", False),  # encryption in transit
        ("hipaa:164.316(b)(2)(i)", True),  # time limit (6 years)
    ],
)
def test_hipaa_required_vs_addressable(ref: str, required: bool) -> None:
    assert resolve(ref).required is required


# --- HICP 405(d) Technical Volume 2 -------------------------------------------------------------------


def test_hicp_practices_and_sub_practices() -> None:
    practices = controls_for("hicp", "practice")
    assert [p.id for p in practices] == [str(n) for n in range(1, 11)]
    subs = controls_for("hicp", "sub-practice")
    assert len(subs) == 70
    letters: dict[tuple[str, str], list[str]] = {}
    for s in subs:
        m = re.fullmatch(r"(\d+)\.([ML])\.([A-Z])", s.id)
        assert m, s.id
        assert s.parent == m.group(1)
        letters.setdefault((m.group(1), m.group(2)), []).append(m.group(3))
    for key, seq in letters.items():
        assert seq == [chr(ord("A") + i) for i in range(len(seq))], f"HICP {key} letters not consecutive: {seq}"
    assert resolve("hicp:6.M.B").title == "Network Segmentation"
    assert resolve("hicp:4.M.D").title == "Backup Strategies"
    assert resolve("hicp:9").title == "Network Connected Medical Devices"


# --- DICOM PS3.15 ------------------------------------------------------------------------------------------


def test_dicom_profiles() -> None:
    for c in controls_for("dicom"):
        assert re.fullmatch(r"PS3\.15-[A-Z](\.\d+)?", c.id), c.id
    assert resolve("dicom:PS3.15-B.9").title == "BCP 195 TLS Secure Transport Connection Profile"
    assert resolve("dicom:PS3.15-A.5").title == "Audit Trail Message Format Profile"
    assert "Retired" in resolve("dicom:PS3.15-B.1").text


# --- API --------------------------------------------------------------------------------------------------


def test_lookup_api() -> None:
    assert is_known("hipaa:164.312(e)(1)") and is_known("csf:PR.DS-02") and is_known("hicp:1.M.A")
    for bad in ("hipaa:999", "csf:PR.DS-99", "nist:PR.DS-02", "PR.DS-02", "csf:", ""):
        assert not is_known(bad), bad
    with pytest.raises(KeyError):
        resolve("csf:nope")
    assert resolve("hicp:1.M.A").ref == "hicp:1.M.A"
    assert unknown_refs(["csf:PR.DS-02", "csf:XX", "csf:XX", "hicp:1.M.Z"]) == ["csf:XX", "hicp:1.M.Z"]
    with pytest.raises(KeyError):
        controls_for("nope")


# --- consistency: every control cited in src/ exists ------------------------------------------------------


def _cited_refs() -> dict[str, list[str]]:
    """Map each ``framework:id`` literal in src/radguard (Python constants, data files) to where it is."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        except SyntaxError as exc:  # someone's file mid-edit: report it rather than skip silently
            found.setdefault(f"<syntax error: {exc.msg}>", []).append(str(path.relative_to(SRC)))
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and REF_RE.match(node.value):
                found.setdefault(node.value, []).append(f"{path.relative_to(SRC)}:{node.lineno}")
    for ext in ("json", "toml", "yaml", "yml"):
        for path in sorted(SRC.rglob(f"*.{ext}")):
            if path.parent == CATALOG_DIR:
                continue
            for lineno, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
                for m in QUOTED_REF_RE.finditer(line):
                    found.setdefault(m.group(1), []).append(f"{path.relative_to(SRC)}:{lineno}")
    return found


def test_every_cited_control_is_in_a_catalog() -> None:
    cited = _cited_refs()
    assert cited, "found no control references in src/radguard at all"
    unknown = {ref: where for ref, where in cited.items() if not is_known(ref)}
    report = "\n".join(f"  {ref}  <- {', '.join(where)}" for ref, where in sorted(unknown.items()))
    assert not unknown, (
        f"{len(unknown)} control reference(s) cited in src/radguard are not in the catalogs "
        f"(see `radguard controls list`):\n{report}"
    )


# --- CLI ---------------------------------------------------------------------------------------------------


def test_cli_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["controls", "list", "--framework", "csf", "--kind", "subcategory", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.controls/1"
    assert [c["framework"] for c in doc["catalogs"]] == ["csf"]
    assert len(doc["controls"]) == 106
    assert doc["controls"][0] == {
        "ref": "csf:GV.OC-01", "framework": "csf", "id": "GV.OC-01",
        "title": "The organizational mission is understood and informs cybersecurity risk management",
        "kind": "subcategory", "required": None, "parent": "GV.OC", "text": "",
    }


def test_cli_list_search_and_all(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["controls", "list", "-f", "hipaa", "-f", "hicp", "--search", "backup", "--json"]) == 0
    refs = [c["ref"] for c in json.loads(capsys.readouterr().out)["controls"]]
    assert refs == ["hipaa:164.308(a)(7)(ii)(A)", "hipaa:164.310(d)(2)(iv)", "hicp:4.M.D"]
    assert main(["controls", "list", "--json"]) == 0
    total = sum(len(load(f).controls) for f in frameworks())
    assert len(json.loads(capsys.readouterr().out)["controls"]) == total
    assert main(["controls", "list", "-f", "csf", "--kind", "category"]) == 0
    out = capsys.readouterr().out
    assert "csf:PR.DS" in out and "22 control(s)" in out


def test_cli_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["controls", "show", "hipaa:164.312(e)(1)", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.control/1"
    assert doc["control"]["title"] == "Transmission security" and doc["parent"] is None
    assert [c["id"] for c in doc["children"]] == ["164.312(e)(2)(i)", "164.312(e)(2)(ii)"]
    assert main(["controls", "show", "hicp:6.M.B"]) == 0
    out = capsys.readouterr().out
    assert "Network Segmentation" in out and "hicp:6  Network Management" in out


@pytest.mark.parametrize("args", [["controls", "show", "csf:PR.XX-01"], ["controls", "show", "PR.DS-02"],
                                  ["controls", "show", "nist:PR.DS-02"], ["controls", "list", "-f", "nope"]])
def test_cli_bad_input_is_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "radguard: error:" in captured.err and "Traceback" not in captured.err
