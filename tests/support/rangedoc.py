"""A ``radguard.range/1`` document built by the range's own ``document()`` from hand-made results (for report
tests that need no running range)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from radguard.range.runner import document
from radguard.range.state import RangeState


def _state(tmp_path: Path) -> RangeState:
    return RangeState(
        run_dir=str(tmp_path), host="127.0.0.1", pacs_ae="PACS", pacs_port=1, pacs_http_port=2, gateway_ae="RADGUARD",
        gateway_port=3, workstation_ae="WS01", workstation_port=4, workstation_store="", archive_ae="ARCHIVE",
        archive_port=5, rogue_ae="EXFIL", rogue_port=6, rogue_store="", archive_dir="", backup_dir="", pristine_dir="",
        key="", db="", gateway_config="", gateway_audit="", monitor_alerts="", monitor_filter="")


def _result(name: str, *, success: bool, prevented: list[str], seen: list[tuple[str, str, int]],
            impact: dict[str, int], recovery: float | None = None) -> dict[str, Any]:
    return {"attack": name, "title": name.replace("-", " ").capitalize(), "attack_ids": ["T1486"],
            "precondition": "p", "objective": "o", "expected_layers": ["gateway"], "layers_off": [],
            "success": success, "prevented_by": prevented,
            "detected_by": [{"layer": la, "rule": r, "time_to_detect_ms": ms} for la, r, ms in seen],
            "time_to_detect_ms": min((ms for _, _, ms in seen), default=None), "impact": impact, "note": "",
            "error": None, "recovery_s": recovery, "recovery_verified": recovery is not None}


def range_doc(tmp_path: Path) -> dict[str, Any]:
    results = [
        _result("move-exfil", success=False, prevented=["gateway"], seen=[("gateway", "restricted-function", 41),
                                                                          ("monitor", "bulk-retrieve", 900)],
                impact={"objects_exfiltrated": 0}),
        _result("ransomware-full", success=True, prevented=[], seen=[("seal+audit", "unexpected", 2500),
                                                                     ("canaries", "canary-touched", 2500)],
                impact={"objects_altered": 26}, recovery=3.1),
        _result("rest-harvest", success=True, prevented=[], seen=[], impact={"objects_exfiltrated": 3}),
    ]
    fps = {"seconds": 5.0, "benign_ops": {"store": 2, "find": 1}, "benign_failed": {},
           "false_positives": {"gateway": 0, "monitor": 0, "seal+audit": 0, "canaries": 0, "backups": 0}}
    cell = {"success": True, "prevented_by": [], "detected_by": [], "error": None, "impact": {}, "recovery_s": None}
    ablation = {"layers": ["gateway", "monitor"], "defense_in_depth": {},
                "rows": [{"attack": "move-exfil", "expected_layers": ["gateway"], "all_on": cell,
                          "off": {"gateway": cell}}]}
    doc = document(_state(tmp_path), results, fps, ablation)
    return {"schema": "radguard.range/1", **doc}
