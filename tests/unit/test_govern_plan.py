"""The POA&M takes the corrective actions of the last tabletop exercise (45 CFR 164.308(a)(6), (a)(7)(ii)(D))."""

from __future__ import annotations

import csv
import io
from datetime import date

from radguard.govern.plan import plan_items, to_csv

AAR = {"scenario": "vendor-remote-access", "title": "Compromised vendor remote-access account", "score": 4,
       "improvement_plan": [
           {"action": "Enforce MFA on the vendor VPN", "owner": "CISO", "priority": "high", "due": "2027-01-06",
            "why": "contain/mfa not met"},
           {"action": "Keep a vendor contact roster", "owner": "PACS administrator", "priority": "medium",
            "due": "2027-02-05", "why": "notify: chose wait"}]}


def test_exercise_corrective_actions_become_plan_items() -> None:
    items = plan_items([], [], exercise=AAR)
    assert [(i.id, i.kind, i.ref, i.owner, i.severity) for i in items] == [
        ("POAM-001", "exercise", "vendor-remote-access", "CISO", "high"),
        ("POAM-002", "exercise", "vendor-remote-access", "PACS administrator", "medium")]
    assert items[0].due == date(2027, 1, 6) and "contain/mfa not met" in items[0].weakness
    rows = list(csv.DictReader(io.StringIO(to_csv(items))))
    assert rows[1]["action"] == "Keep a vendor contact roster" and rows[1]["kind"] == "exercise"


def test_no_exercise_no_items() -> None:
    assert plan_items([], []) == [] and plan_items([], [], exercise={"score": 0}) == []
