"""Records of a capture of any size in bounded memory: detections over a window of records, records and
assets streamed to the store in batches while the capture is read.

A capture's records are held for the detections (they correlate records across the capture: sweeps,
floods, brute force) up to :data:`DETECT_WINDOW`; a larger capture is detected window by window, each
window overlapping the previous one by half, and a later window adds only findings not already raised
(by rule, target and source). Below the window, the findings are exactly those of one pass over all
records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from radguard.models import Asset, Event, Finding
from radguard.monitor import detections
from radguard.monitor.conversation import Record

#: records held for detections (~2.3 kB each in memory) before they run over a window
DETECT_WINDOW = 50_000


class WindowedDetections:
    """Collect records for the detections of ``rules``; :meth:`finish` returns the findings."""

    def __init__(self, rules: Sequence[str], overrides: Mapping[str, Mapping[str, Any]],
                 context: Mapping[str, Any], window: int = DETECT_WINDOW) -> None:
        self.rules = list(rules)
        self.overrides = overrides
        self.context = context
        self.window = max(2, window)
        self.records: list[Record] = []
        self.kinds: Counter[str] = Counter()
        self.commands: Counter[str] = Counter()
        self.findings: list[Finding] = []
        self._raised: set[tuple[str, str, str]] = set()
        self.windows = 0

    def __call__(self, record: Record) -> None:
        kind = str(record.get("kind"))
        self.kinds[kind] += 1
        if kind == "dimse":
            self.commands[str(record.get("command"))] += 1
        self.records.append(record)
        if len(self.records) >= self.window:
            self._detect()
            del self.records[: self.window // 2]

    def _detect(self) -> None:
        new = detections.run(self.records, self.rules, self.overrides, self.context)
        if self.windows:
            new = [f for f in new if _identity(f) not in self._raised]
        self._raised.update(_identity(f) for f in new)
        self.findings.extend(new)
        self.windows += 1

    def finish(self) -> list[Finding]:
        """Run the detections over what is held (the last window); every finding of the capture."""
        if self.records or not self.windows:
            self._detect()
        return self.findings

    def stats(self) -> dict[str, Any]:
        return {"records": dict(sorted(self.kinds.items())), "commands": dict(sorted(self.commands.items()))}


def _identity(finding: Finding) -> tuple[str, str, str]:
    return finding.rule, finding.target, str(finding.evidence.get("source") or finding.evidence.get("client") or "")


class AssetTally:
    """The DICOM endpoints the capture shows (passive inventory), from association records as they come."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, Any]] = {}

    def __call__(self, r: Record) -> None:
        if r.get("kind") != "association":
            return
        target = detections.endpoint(r)
        info = self.seen.setdefault(target, {"kind": "dicom-tls" if r.get("transport") == "tls" else "dicom",
                                             "called_ae": set(), "clients": set(), "implementation": None,
                                             "version": None, "associations": 0})
        info["associations"] += 1
        info["clients"].add(str(r.get("client")))
        if r.get("result") == "accepted" and r.get("called_ae"):
            info["called_ae"].add(str(r["called_ae"]))
        if r.get("acceptor_implementation_class_uid"):
            info["implementation"] = r["acceptor_implementation_class_uid"]
            info["version"] = r.get("acceptor_implementation_version")

    def assets(self) -> list[Asset]:
        return [Asset(kind=i["kind"], target=t, product=i["implementation"], version=i["version"],
                      attributes={"called_ae_titles": sorted(i["called_ae"]), "clients": len(i["clients"]),
                                  "associations": i["associations"], "source": "passive"})
                for t, i in sorted(self.seen.items())]


def alert_events(findings: Sequence[Finding], source: str = "monitor") -> list[Event]:
    """Alerts for the store's event timeline (one per finding; evidence without PHI)."""
    return [Event(kind="alert", source=source, summary=f"{f.rule}: {f.title} ({f.target})", severity=f.severity,
                  attributes={"rule": f.rule, "target": f.target, "evidence": dict(f.evidence)}) for f in findings]
