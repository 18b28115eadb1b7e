"""The console's monitor alerts, archive integrity and governance pages, with their JSON twins."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from radguard.archive import keys
from radguard.archive.audit import audit
from radguard.archive.ledger import EntryRow
from radguard.archive.seal import seal
from radguard.models import Finding, Severity
from radguard.monitor.run import alert_events
from radguard.store import Store
from tests.support.corpus import write_tree
from tests.unit.test_web_security import assert_strict_headers, login, make_client, users  # noqa: F401 - fixture
from tests.unit.test_web_security import store as store


def _monitor_run(st: Store, kind: str, findings: list[Finding]) -> int:
    h = st.start_run(kind, {})
    h.add_findings(findings)
    h.add_events(alert_events(findings, source=kind))
    h.finish()
    return h.id


def test_alerts_page_filters_pages_and_twin(tmp_path: Path, users: Store) -> None:  # noqa: F811
    sweep = [Finding(rule="c-find-sweep", severity=Severity.HIGH, title="C-FIND sweep", target=f"10.0.0.{i}:104")
             for i in range(7)]
    unknown = [Finding(rule="unknown-ae", severity=Severity.MEDIUM, title="Unknown AE", target="10.0.1.1:104")]
    pcap = _monitor_run(users, "pcap", sweep)
    mon = _monitor_run(users, "monitor", unknown)
    client = make_client(tmp_path, page_size=3)
    assert login(client, "vera") == 303
    data = client.get("/api/alerts").json()
    assert data["schema"] == "radguard.alerts/1" and data["total"] == 8 and len(data["alerts"]) == 3
    assert data["alerts"][0]["layer"] == "monitor" and data["alerts"][0]["run"] == mon
    seen = list(data["alerts"])
    while data["next"]:
        data = client.get(f"/api/alerts?{data['next']}").json()
        seen += data["alerts"]
    assert len(seen) == 8 and [a["id"] for a in seen] == sorted((a["id"] for a in seen), reverse=True)
    assert client.get("/api/alerts?severity=high").json()["total"] == 7
    assert client.get("/api/alerts?kind=monitor").json()["total"] == 1
    assert client.get(f"/api/alerts?run={pcap}&text=10.0.0.3").json()["total"] == 1
    runs = {r["id"]: r["findings"] for r in client.get("/api/alerts").json()["runs"]}
    assert runs[pcap]["high"] == 7 and runs[mon]["medium"] == 1
    page = client.get("/alerts?severity=high")
    assert page.status_code == 200 and 'id="alerts-table"' in page.text and "c-find-sweep" in page.text
    assert_strict_headers(page.headers)
    scan = users.runs(kind="scan")[0].id
    for bad, status in (("severity=severe", 400), ("kind=scan", 400), ("run=x", 400), (f"run={scan}", 400),
                        ("run=99999", 404), ("before=-1", 400), ("text=" + "x" * 300, 400)):
        for prefix in ("/api/alerts", "/alerts"):
            assert client.get(f"{prefix}?{bad}").status_code == status, (prefix, bad)


def test_archive_integrity_per_root_verified_then_invalid(tmp_path: Path, users: Store) -> None:  # noqa: F811
    client = make_client(tmp_path)
    assert login(client, "vera") == 303
    assert "no sealed root yet" in client.get("/archive").text
    keys.generate(tmp_path / "k.pem")
    key, pub = keys.load(tmp_path / "k.pem"), keys.trusted_public(tmp_path / "k.pem")
    tree = tmp_path / "arc"
    write_tree(tree)

    def run(kind: str) -> int:
        h = users.start_run(kind, {"paths": [str(tree)]})
        s = (seal(users, [str(tree)], key, h) if kind == "seal" else audit(users, [str(tree)], h, trusted_key=pub))
        h.finish(s.to_dict())
        return h.id

    sealed = run("seal")
    root = client.get("/api/archive").json()["roots"][0]
    assert root["ledger"] == "not audited since the last seal" and root["last_seal"]["id"] == sealed
    assert root["objects"] == 8 and root["last_audit"] is None
    first = run("audit")
    root = client.get("/api/archive").json()["roots"][0]
    assert root["ledger"] == "verified" and root["last_audit"]["id"] == first
    assert sum(root["findings"].values()) == 0
    with users.session() as s:  # the ledger changed outside radguard
        s.execute(update(EntryRow).where(EntryRow.id == 1).values(leaf="0" * 64))
        s.commit()
    second = run("audit")
    data = client.get("/api/archive").json()
    assert data["schema"] == "radguard.archive-integrity/1"
    root = data["roots"][0]
    assert root["ledger"] == "invalid" and root["last_audit"]["id"] == second
    assert root["findings"]["critical"] >= 1 and "entries-modified" in root["ledger_invalid"][0]["problems"]
    page = client.get("/archive")
    assert page.status_code == 200 and "invalid" in page.text and str(tree) in page.text


def test_governance_shows_control_status_obligations_and_risks(tmp_path: Path, users: Store) -> None:  # noqa: F811
    from radguard.govern import risk
    from radguard.govern.status import govern_status
    from radguard.models import Asset

    scan = users.start_run("scan", {"targets": ["127.0.0.1"]})
    scan.add_assets([Asset(kind="dicom", target="127.0.0.1:104", product="DCMTK")])
    scan.add_findings([Finding(rule="dicom-any-called-ae", severity=Severity.HIGH, title="Any called AE accepted",
                               target="127.0.0.1:104", controls=("hipaa:164.312(a)(1)",))])
    scan.finish()
    client = make_client(tmp_path)
    assert login(client, "vera") == 303
    page = client.get("/governance")
    assert page.status_code == 200 and 'id="governance-summary"' in page.text and "Top risks" in page.text
    data = client.get("/api/governance").json()
    assert data["schema"] == "radguard.governance/1"
    expected = govern_status(users)
    assert data["summary"] == {fw: expected.counts(fw) for fw in expected.frameworks}
    assert data["overdue"] == [o.obligation.id for o in expected.overdue]
    assert data["risks"] and {r["id"] for r in data["risks"]} == {r.id for r in risk.register(users)}
    assert "not met" in page.text and data["summary"]["hipaa"]["not-met"] >= 1
    spec = client.get("/api/openapi.json").json()["paths"]
    for path in ("/api/alerts", "/api/archive", "/api/governance"):
        assert spec[path]["get"]["description"], path
    nav = client.get("/").text
    for link in ("/alerts", "/archive", "/governance"):
        assert f'href="{link}"' in nav
