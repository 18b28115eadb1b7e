"""A baseline of normal DICOM behaviour, learned from records or written by hand (JSON):

```json
{"peers": {"CT01": ["10.0.0.5"], "WS01": ["10.0.0.7"]},      // calling AE -> source addresses
 "called": {"PACS": ["10.0.0.2:104"]},                        // called AE -> server endpoints
 "move_destinations": ["WS01"],
 "retrieve_objects": {"WS01": 1200}}                          // calling AE -> objects retrieved (peak)
```
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from radguard.errors import ConfigError


def learn(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A baseline from records of a capture of normal traffic (accepted associations only)."""
    peers: dict[str, set[str]] = defaultdict(set)
    called: dict[str, set[str]] = defaultdict(set)
    destinations: set[str] = set()
    retrieved: dict[str, int] = defaultdict(int)
    for r in records:
        if r.get("kind") == "association" and r.get("result") == "accepted" and r.get("calling_ae"):
            peers[str(r["calling_ae"])].add(str(r["client"]))
            called[str(r["called_ae"])].add(f"{r['server']}:{r['server_port']}")
        elif r.get("kind") == "dimse" and r.get("command") in ("C-MOVE", "C-GET"):
            if r.get("move_destination"):
                destinations.add(str(r["move_destination"]))
            subops = r.get("sub_operations") or {}
            retrieved[str(r.get("calling_ae"))] += int(subops.get("completed") or 0)
    return {"peers": {k: sorted(v) for k, v in sorted(peers.items())},
            "called": {k: sorted(v) for k, v in sorted(called.items())},
            "move_destinations": sorted(destinations), "retrieve_objects": dict(sorted(retrieved.items()))}


def load(path: Path) -> dict[str, Any]:
    """Read a baseline file (ConfigError when unreadable or not the expected shape)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read baseline {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("peers", {}), dict):
        raise ConfigError(f"baseline {path}: expected an object with a 'peers' mapping")
    return data
