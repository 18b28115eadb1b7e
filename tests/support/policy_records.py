"""Monitor records (the shape :mod:`radguard.monitor.conversation` emits) for the policy unit tests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from radguard.policy.traffic import Traffic, from_records

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
ECHO = "1.2.840.10008.1.1"
FIND = "1.2.840.10008.5.1.4.1.2.2.1"
MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
PACS = ("10.0.0.10", 104)
T0 = 1_800_000_000.0
_ids = itertools.count(1)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def association(calling: str, client: str, t: float, requests: Sequence[tuple[str, str, str | None]] = (),
                server: tuple[str, int] = PACS, called: str = "PACS", result: str = "accepted",
                end: str = "released") -> list[dict[str, Any]]:
    """An association record and its requestor's DIMSE records: ``requests`` = (command, SOP class, destination)."""
    uid = f"C{next(_ids)}"
    ends = {"uid": uid, "client": client, "client_port": 40000 + int(t) % 1000, "server": server[0],
            "server_port": server[1]}
    classes = sorted({sop for _, sop, _ in requests}) or [ECHO]
    out: list[dict[str, Any]] = [{
        "kind": "association", "ts": iso(t), "ts_end": iso(t + 1), **ends, "calling_ae": calling,
        "called_ae": called, "result": result, "end": end if result == "accepted" else "rejected",
        "contexts": [{"id": 1 + 2 * i, "abstract_syntax": c, "transfer_syntax": "1.2.840.10008.1.2",
                      "result": "acceptance"} for i, c in enumerate(classes)],
        "commands": {}, "dimse_count": len(requests)}]
    for i, (command, sop, dest) in enumerate(requests):
        out.append({"kind": "dimse", "ts": iso(t + 0.1 * (i + 1)), **ends, "calling_ae": calling, "called_ae": called,
                    "command": command, "issuer": "requestor", "message_id": i + 1, "sop_class": sop,
                    "priority": 0, "move_destination": dest, "status": 0, "query": None, "matches": 0})
    return out


def traffic(*assocs: list[dict[str, Any]]) -> Traffic:
    records = [r for a in assocs for r in a]
    return from_records(records, ["test"])
