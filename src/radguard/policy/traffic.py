"""Observed DICOM traffic for the policy tools: the monitor's records, grouped per association.

The records come from capture files (read by the monitor's analyzer, :func:`radguard.monitor.analyzer.analyze`,
the code behind ``radguard pcap``) or from the store (``monitor_records`` of earlier ``radguard pcap`` /
``radguard monitor`` runs). The monitor's default detections run over them once: the hosts they name are
the ones ``policy learn`` holds back for review. Nothing is parsed twice and no PHI is kept (records carry
AE titles, SOP class UIDs, counts; instance UIDs are keyed hashes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radguard.errors import UsageError
from radguard.models import Finding
from radguard.monitor.detections import epoch

Record = dict[str, Any]
#: ports where DICOMweb (or a PACS web front end) is expected: HTTP(S), Orthanc, common alternatives.
#: Connections there are read as well (for the nftables ruleset), and kept away from the detections.
DICOMWEB_PORTS: frozenset[int] = frozenset({80, 443, 8042, 8080, 8443})


@dataclass
class Association:
    """One association seen on the wire and the DIMSE requests its requestor issued (PS3.7 §9.1)."""

    record: Record
    requests: list[Record] = field(default_factory=list)

    @property
    def uid(self) -> str:
        return str(self.record.get("uid"))

    @property
    def calling_ae(self) -> str:
        return str(self.record.get("calling_ae") or "").strip()

    @property
    def called_ae(self) -> str:
        return str(self.record.get("called_ae") or "").strip()

    @property
    def client(self) -> str:
        return str(self.record.get("client"))

    @property
    def server(self) -> tuple[str, int]:
        return str(self.record.get("server")), int(self.record.get("server_port") or 0)

    @property
    def ts(self) -> float:
        return epoch(str(self.record["ts"]))

    @property
    def released(self) -> bool:
        """Accepted and ended by an A-RELEASE (PS3.8 §7.2): a normal, complete association."""
        return self.record.get("result") == "accepted" and self.record.get("end") == "released"


@dataclass
class Traffic:
    """What a set of captures (or the store) showed: associations in time order, findings, sources."""

    associations: list[Association]
    findings: list[Finding]
    sources: list[str]
    errors: list[dict[str, Any]] = field(default_factory=list)
    records: int = 0
    web: list[Record] = field(default_factory=list)  # TCP connections to DICOMWEB_PORTS that got an answer

    def implicated(self) -> dict[str, dict[str, frozenset[str] | None]]:
        """Host -> {rule: the calling AE titles a detection names for it, or None for all of them}.

        A detection names its source host as ``source`` or ``sources`` (a sweep: as its target) and, for
        some rules (harvesting, malicious objects, unknown peers), the calling AE it saw.
        """
        out: dict[str, dict[str, frozenset[str] | None]] = {}
        for f in self.findings:
            ev = dict(f.evidence)
            hosts = [ev["source"]] if isinstance(ev.get("source"), str) else []
            hosts += [h for h in ev.get("sources") or [] if isinstance(h, str)]
            if f.rule == "dicom-sweep":
                hosts.append(f.target)
            ae = ev.get("calling_ae")
            for h in hosts:
                rules = out.setdefault(h, {})
                if not isinstance(ae, str) or rules.get(f.rule, frozenset()) is None:
                    rules[f.rule] = None
                else:
                    rules[f.rule] = (rules.get(f.rule) or frozenset()) | {ae.strip()}
        return out


def group(records: Iterable[Record]) -> list[Association]:
    """DICOM associations (not TLS, not bare connections) with their requestor's DIMSE requests, by time."""
    assocs: dict[str, Association] = {}
    requests: dict[str, list[Record]] = {}
    for r in records:
        kind = r.get("kind")
        if kind == "association" and r.get("transport") != "tls" and r.get("calling_ae"):
            assocs[str(r.get("uid"))] = Association(r)
        elif kind == "dimse" and r.get("issuer") == "requestor":
            requests.setdefault(str(r.get("uid")), []).append(r)
    for uid, a in assocs.items():
        a.requests = sorted(requests.get(uid, []), key=lambda q: (epoch(str(q["ts"])), q.get("message_id") or 0))
    return sorted(assocs.values(), key=lambda a: a.ts)


def _is_web(r: Record) -> bool:
    from radguard.monitor.analyzer import DEFAULT_DICOM_PORTS

    port = int(r.get("server_port") or 0)
    return (port in DICOMWEB_PORTS and port not in DEFAULT_DICOM_PORTS and r.get("state") != "refused"
            and (r.get("kind") == "connection" or r.get("transport") == "tls") and bool(r.get("bytes_server")))


def from_records(records: list[Record], sources: list[str], errors: list[dict[str, Any]] | None = None) -> Traffic:
    """Traffic of monitor records already read (the detections run over them once)."""
    from radguard.monitor import detections

    web = [r for r in records if _is_web(r)]
    wire = [r for r in records if not _is_web(r)]
    return Traffic(group(wire), detections.run(wire, "default", {}, {}), sources, errors or [], len(records), web)


def from_captures(paths: Sequence[Path]) -> Traffic:
    """Read capture files (one capture, in order). Raises :class:`UsageError` when a file is missing or
    when nothing in them is DICOM (a policy learned from nothing must not look like a policy)."""
    from radguard.monitor.analyzer import DEFAULT_DICOM_PORTS, analyze

    for p in paths:
        if not p.is_file():
            raise UsageError(f"no such capture file: {p}")
    analysis = analyze(paths, dicom_ports=DEFAULT_DICOM_PORTS | DICOMWEB_PORTS)
    traffic = from_records(analysis.records, [str(p) for p in paths], analysis.errors)
    if not traffic.associations:
        detail = "; ".join(f"{e['file']}: {e['error']}" for e in analysis.errors)
        names = ", ".join(str(p) for p in paths)
        raise UsageError(f"no DICOM association in {names}" + (f" ({detail})" if detail else ""))
    return traffic


def from_store(url: str | None = None) -> Traffic:
    """Every DICOM record the monitor stored (all ``radguard pcap`` / ``radguard monitor`` runs)."""
    from sqlalchemy import select

    from radguard.monitor.records_store import MonitorRecordRow
    from radguard.store import open_store

    store = open_store(url)
    try:
        with store.session() as s:
            rows = s.execute(select(MonitorRecordRow.run_id, MonitorRecordRow.data)
                             .order_by(MonitorRecordRow.ts, MonitorRecordRow.id)).all()
    finally:
        store.close()
    records = []
    runs: set[int] = set()
    for run_id, data in rows:
        runs.add(int(run_id))
        rec = dict(data)
        rec["uid"] = f"{run_id}:{rec.get('uid')}"  # flow ids restart with every run
        records.append(rec)
    traffic = from_records(records, [f"store run {r}" for r in sorted(runs)], [])
    if not traffic.associations:
        raise UsageError("no DICOM association in the store (run `radguard pcap FILE...` first)")
    return traffic
