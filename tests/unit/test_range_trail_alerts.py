"""The range reads the gateway's Security Alerts by event type; a folded count of hostile acts (written when
its window closed, maybe during a later attack) is not a detection of that later attack."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from radguard.range.runner import trail_alerts


def _alert(t: str, kind: str, types: list[str]) -> dict[str, Any]:
    return {"event": "110113", "time": t, "event_types": types, "description": "before association",
            "objects": [{"id": "127.0.0.9", "details": {"kind": kind, "count": "1"}}]}


def test_folded_counts_are_not_detections(tmp_path: Path) -> None:
    audit = tmp_path / "gw.jsonl"
    docs = [_alert("2026-01-01T00:00:00+00:00", "not-dicom", ["110126"]),
            _alert("2026-01-01T00:01:00+00:00", "folded", ["110126"]),
            _alert("2026-01-01T00:01:01+00:00", "x", ["110132"])]
    audit.write_text("".join(json.dumps(d) + "\n" for d in docs))
    st = cast(Any, SimpleNamespace(gateway_audit=str(audit), monitor_alerts=str(tmp_path / "none.jsonl"),
                                   decoy_alerts=""))
    t0 = 1767225600.0  # 2026-01-01T00:00:00Z
    assert [a["rule"] for a in trail_alerts(st, t0, t0 + 120, frozenset())] == ["node-authentication",
                                                                                 "restricted-function"]
