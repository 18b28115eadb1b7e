"""Console views over a real store: the overview's numbers are build_posture's, filters, pages, diff, API, CLI."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from radguard.cli.main import main
from radguard.models import Finding, Severity
from radguard.report.posture import build_posture, summarize
from radguard.store import Store, open_store
from radguard.store.console import get_user
from tests.unit.test_web_security import PASSWORD, login, make_client, users  # noqa: F401 - fixture
from tests.unit.test_web_security import store as store

RULES = ("dicom-any-called-ae", "dicom-open-query", "tls-weak", "pixel-tampered", "preamble-exec")
CONTROLS = (("hipaa:164.312(e)(1)",), ("hipaa:164.312(e)(1)", "csf:PR.DS-02"), (), ("csf:DE.CM-01",))


def random_findings(rng: random.Random, n: int) -> list[Finding]:
    return [Finding(rule=rng.choice(RULES), severity=rng.choice(list(Severity)), title=f"t{rng.randint(0, 3)}",
                    target=f"10.0.0.{rng.randint(1, 9)}:104", remediation=f"fix {rng.randint(0, 3)}",
                    controls=rng.choice(CONTROLS)) for _ in range(n)]


def fill(st: Store, seed: int = 7) -> None:
    rng = random.Random(seed)
    for kind in ("scan", "audit", "scan", "seal", "gateway", "scan", "audit"):
        h = st.start_run(kind, {})
        h.add_findings(random_findings(rng, rng.randint(0, 40)))
        h.finish()
    st.start_run("scan", {}).add_findings(random_findings(rng, 10))  # still running: not open


def test_posture_from_group_by_equals_the_posture_from_every_finding(tmp_path: Path) -> None:
    for seed in range(4):
        st = open_store(f"sqlite:///{tmp_path / f's{seed}.db'}")
        fill(st, seed)
        posture = build_posture(st)
        latest = {lay.kind: lay.run_id for lay in posture.layers}
        runs = sorted(latest.items(), key=lambda kv: -kv[1])  # newest first, as build_posture reads them
        rules, controls = summarize({kind: st.findings(rid) for kind, rid in runs})
        assert posture.rules == rules and posture.controls == controls
        assert sum(posture.open_counts.values()) == sum(len(st.findings(rid)) for rid in latest.values())
        assert build_posture(st, findings=False).to_dict()["open"] == posture.to_dict()["open"]
        st.close()


def test_overview_shows_build_posture_numbers_and_json_twin(tmp_path: Path, users: Store) -> None:  # noqa: F811
    fill(users)
    client = make_client(tmp_path)
    assert login(client, "vera") == 303
    posture = build_posture(users)
    page = client.get("/").text
    for sev, n in posture.open_counts.items():
        assert re.search(rf'id="open-{sev}">{n}<', page), sev
    data = client.get("/api/overview").json()
    assert data["schema"] == "radguard.overview/1" and data["open"] == posture.open_counts
    assert data["rules"] == posture.to_dict()["rules"]
    svg = client.get("/plots/layers.svg")
    assert svg.status_code == 200 and svg.text.lstrip().startswith("<svg")
    network = client.get("/plots/network.svg")  # Graphviz map of the inventory (radguard inventory --map)
    assert network.status_code == 200 and network.text.lstrip().startswith("<svg")
    assert '<g id="graph0"' in network.text
    assert 'id="network-map"' in client.get("/assets").text
    # the obligations with dates that governance finds overdue (no pen test or exercise is on record here)
    from radguard.govern.obligations import obligation_status

    overdue = [o.obligation.id for o in obligation_status(users) if o.overdue]
    assert overdue and [o["id"] for o in data["overdue_obligations"]] == overdue
    assert page.count('class="overdue-obligation"') == len(overdue)


def test_overview_shows_the_last_range_run_and_exercise(tmp_path: Path, users: Store) -> None:  # noqa: F811
    from radguard.range.report import store_results
    from tests.support.rangedoc import range_doc

    fill(users)
    run = store_results(range_doc(tmp_path), url=str(users.engine.url))
    users.start_run("exercise", {}).finish(summary={
        "scenario": "ransomware-night", "title": "Ransomware on the PACS at night", "score": 5, "possible": 9,
        "improvement_plan": [{"action": "Test restores monthly", "owner": "PACS administrator", "priority": "high",
                              "due": "2027-01-05", "why": "x"}]})
    client = make_client(tmp_path)
    assert login(client, "vera") == 303
    page = " ".join(client.get("/").text.split())
    assert f'href="/runs/{run}"' in page
    assert "Of 3 attacks, <strong>1</strong> were stopped" in page and "gateway off" in page
    assert "Test restores monthly" in page and "score 5 of 9" in page
    data = client.get("/api/overview").json()
    assert data["range"]["run"] == run and data["exercise"]["score"] == 5


def test_findings_filters_pages_and_diff(tmp_path: Path, users: Store) -> None:  # noqa: F811
    fill(users)
    client = make_client(tmp_path, page_size=7)
    assert login(client, "vera") == 303
    posture = build_posture(users)
    everything = client.get("/api/findings").json()
    assert everything["total"] == posture.total_open
    seen = []
    for page in range(1, everything["pages"] + 1):
        seen += client.get(f"/api/findings?page={page}").json()["findings"]
    assert len(seen) == posture.total_open and len({f["id"] for f in seen}) == len(seen)
    ranks = [Severity(f["severity"]).rank for f in seen]
    assert ranks == sorted(ranks, reverse=True)  # worst first across pages
    high = client.get("/api/findings?severity=high&severity=critical").json()
    assert high["total"] == posture.open_counts["high"] + posture.open_counts["critical"]
    rule = client.get("/api/findings?rule=tls-weak&kind=scan&target=10.0.0.").json()
    assert all(f["rule"] == "tls-weak" and f["layer"] == "scan" for f in rule["findings"])
    scans = [r["id"] for r in client.get("/api/runs?kind=scan").json()["runs"] if r["status"] == "done"]
    d = client.get(f"/api/findings/diff?a={scans[-1]}&b={scans[0]}").json()
    assert d["schema"] == "radguard.findings-diff/1"
    html = client.get(f"/findings/diff?a={scans[-1]}&b={scans[0]}").text
    assert f'id="diff-new">{len(d["new"])}<' in html and f'id="diff-fixed">{len(d["fixed"])}<' in html


def test_accepted_risk_is_stored_shown_and_audited(tmp_path: Path, users: Store) -> None:  # noqa: F811
    client = make_client(tmp_path)
    assert login(client, "otto") == 303
    token = client.get("/api/me").json()["csrf"]
    r = client.post("/api/findings/1/accept", json={"reason": "segmented VLAN", "expires": "2099-01-01"},
                    headers={"x-csrf-token": token})
    assert r.status_code == 400  # more than a year ahead
    from datetime import UTC, datetime, timedelta

    day = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    r = client.post("/findings/1/accept", data={"csrf": token, "reason": "segmented VLAN", "expires": day},
                    follow_redirects=False)
    assert r.status_code == 303
    detail = client.get("/api/findings/1").json()
    assert detail["acceptances"][0]["reason"] == "segmented VLAN"
    assert detail["acceptances"][0]["accepted_by"] == "otto"
    assert f"accepted until {day}" in client.get("/findings").text


def test_cli_refuses_a_public_host_without_tls_and_adds_users(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["web", "--host", "0.0.0.0", "--data-dir", str(tmp_path)]) == 2
    assert main(["web", "--host", "192.0.2.1", "--cert", str(tmp_path / "none.pem"), "--key", "k"]) == 2
    r = subprocess.run([sys.executable, "-m", "radguard.cli.main", "web", "--data-dir", str(tmp_path / "d"),
                        "adduser", "root-admin", "--role", "admin", "--password-stdin"],
                       input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    user = get_user(open_store(), "root-admin")
    assert user is not None and user.role == "admin" and user.password_hash.startswith("$argon2id$")
    r = subprocess.run([sys.executable, "-m", "radguard.cli.main", "web", "adduser", "x", "--password-stdin"],
                       input="short\n", capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "at least" in r.stderr
    assert "console account root-admin: added with role admin" in (tmp_path / "d" / "web-audit.jsonl").read_text()


def test_keyset_pages_equal_offset_pages(tmp_path: Path, users: Store) -> None:  # noqa: F811
    from radguard.store import queries

    fill(users, seed=3)
    latest = [r.id for r in queries.latest_finished(users).values()]
    for flt in (queries.FindingFilter(), queries.FindingFilter(severities=("high", "low"), rule="tls-weak")):
        by_offset = queries.findings_page(users, latest, flt, offset=0, limit=1000).items
        walked, after, offsets = [], None, []
        while True:
            page = queries.findings_page(users, latest, flt, limit=4, after=after)
            offsets.append(page.offset)
            walked += page.items
            if page.next_after is None:
                break
            after = queries.parse_cursor(page.next_after)
        assert [i.id for i in walked] == [i.id for i in by_offset]
        assert offsets == list(range(0, 4 * len(offsets), 4))
        for k in (0, 3, 9):
            deep = queries.findings_page(users, latest, flt, offset=k * 4, limit=4).items
            assert [i.id for i in deep] == [i.id for i in by_offset[k * 4:k * 4 + 4]]
    client = make_client(tmp_path, page_size=5)
    assert login(client, "vera") == 303
    first = client.get("/api/findings?severity=high&severity=critical").json()
    second = client.get(f"/api/findings?{first['next']}").json()
    assert second["page"] == 2 and second["findings"] == client.get(
        "/api/findings?severity=high&severity=critical&page=2").json()["findings"]
    assert 'id="next-page"' in client.get("/findings").text
    for bad in ("x", "high.1", "severe.1.2", "high.-1.2", "high.1.99999999999999"):
        r = client.get(f"/api/findings?after={bad}")
        assert r.status_code == 400, bad
