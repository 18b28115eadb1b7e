"""Asset inventory and network map, merged from what radguard saw: scans, gateway audit trail, monitor records.

The inventory and network map the proposed HIPAA Security Rule update asks for (NPRM 2025, proposed
164.308(a)(1)): one entry per network address with its ports, AE titles, product and version, role
(modality / PACS / workstation / unknown), TLS, sources and first and last seen; and the edges of who
talks to whom with the DIMSE operations and volumes. Nothing here holds PHI: records carry AE titles,
addresses, counts and byte totals only.

Roles are inferred: a product known as a PACS, or a peer that answers queries or retrieves, or
receives stores, is a *PACS*; a peer that only stores into others is a *modality*; a peer that
queries or retrieves is a *workstation*, as is a scanned service offering storage only (a DICOM
node seen by no capture); else *unknown*.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from radguard.errors import UsageError
from radguard.store import Store

#: products fingerprinted by the scan that are image archives
PACS_PRODUCTS: frozenset[str] = frozenset({"orthanc", "dcm4chee", "dcm4chee-arc", "conquest", "dicoogle"})
#: store runs read per kind (the latest ones)
RUNS_PER_KIND = 20


@dataclass(kw_only=True, slots=True)
class InvAsset:
    address: str
    ports: set[int] = field(default_factory=set)
    ae_titles: set[str] = field(default_factory=set)
    product: str | None = None
    version: str | None = None
    tls: bool | None = None
    sources: set[str] = field(default_factory=set)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    signals: set[str] = field(default_factory=set)  # stores, serves-query, queries, serves-store, pacs-product

    @property
    def role(self) -> str:
        s = self.signals
        if "pacs-product" in s or "serves-query" in s:
            return "pacs"
        if "stores" in s and not s & {"queries", "receives-store"}:
            return "modality"
        if "receives-store" in s:
            return "pacs"
        if "queries" in s or "serves-store" in s:
            return "workstation"
        return "unknown"

    def seen(self, when: datetime | None, source: str) -> None:
        self.sources.add(source)
        if when is None:
            return
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        self.first_seen = min(self.first_seen or when, when)
        self.last_seen = max(self.last_seen or when, when)

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "addresses": [self.address], "ports": sorted(self.ports),
                "ae_titles": sorted(self.ae_titles), "product": self.product, "version": self.version,
                "role": self.role, "tls": self.tls, "sources": sorted(self.sources),
                "first_seen": self.first_seen.isoformat() if self.first_seen else None,
                "last_seen": self.last_seen.isoformat() if self.last_seen else None}


@dataclass(kw_only=True, slots=True)
class Edge:
    client: str
    server: str
    operations: dict[str, int] = field(default_factory=dict)
    associations: int = 0
    objects: int = 0
    bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"client": self.client, "server": self.server, "operations": dict(sorted(self.operations.items())),
                "associations": self.associations, "objects": self.objects, "bytes": self.bytes}


@dataclass(frozen=True, kw_only=True, slots=True)
class Inventory:
    assets: tuple[InvAsset, ...]
    edges: tuple[Edge, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"assets": [a.to_dict() for a in self.assets], "edges": [e.to_dict() for e in self.edges]}


def _split(target: str) -> tuple[str, int | None]:
    host, sep, port = target.rpartition(":")
    if sep and port.isdigit():
        return host.strip("[]"), int(port)
    return target, None


def _when(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def build_inventory(store: Store) -> Inventory:
    """Merge the assets of scan runs, the records of pcap/monitor runs and the gateway's audit events."""
    from radguard.monitor.records_store import load_records

    assets: dict[str, InvAsset] = {}
    edges: dict[tuple[str, str], Edge] = {}

    def asset(address: str) -> InvAsset:
        return assets.setdefault(address, InvAsset(address=address))

    def edge(client: str, server: str) -> Edge:
        return edges.setdefault((client, server), Edge(client=client, server=server))

    for kind in ("scan", "pcap", "monitor"):
        for run in store.runs(kind, limit=RUNS_PER_KIND):
            when = run.finished or run.started
            if kind == "scan":
                for a in store.assets(run.id):
                    host, port = _split(a.target)
                    inv = asset(host)
                    inv.seen(when, "scan")
                    if port is not None:
                        inv.ports.add(port)
                    inv.product = inv.product or a.product
                    inv.version = inv.version or a.version
                    if a.kind in ("dicom-tls", "https", "tls"):
                        inv.tls = True
                    elif a.kind == "dicom" and inv.tls is None:
                        inv.tls = False
                    if (a.product or "").lower() in PACS_PRODUCTS:
                        inv.signals.add("pacs-product")
                    services = a.attributes.get("services")
                    if isinstance(services, dict) and services.get("storage"):
                        inv.signals.add("serves-store")
                continue
            for r in load_records(store, run.id, kind="association"):
                client, server = str(r.get("client", "")), str(r.get("server", ""))
                if not client or not server:
                    continue
                ts = _when(r.get("ts"))
                c, s = asset(client), asset(server)
                c.seen(ts, kind)
                s.seen(ts, kind)
                if r.get("server_port"):
                    s.ports.add(int(r["server_port"]))
                if r.get("calling_ae"):
                    c.ae_titles.add(str(r["calling_ae"]))
                if r.get("called_ae"):
                    s.ae_titles.add(str(r["called_ae"]))
                if r.get("tls") is not None:
                    s.tls = bool(r["tls"])
                e = edge(client, server)
                e.associations += 1
                e.objects += int(r.get("objects_stored") or 0)
                e.bytes += int(r.get("bytes_client") or 0) + int(r.get("bytes_server") or 0)
                for cmd, n in (r.get("commands") or {}).items():
                    e.operations[str(cmd)] = e.operations.get(str(cmd), 0) + int(n)
                    if cmd == "C-STORE":
                        c.signals.add("stores")
                        s.signals.add("receives-store")
                    if cmd in ("C-FIND", "C-MOVE", "C-GET"):
                        c.signals.add("queries")
                        s.signals.add("serves-query")
    for ev in store.events(limit=5000):
        if ev.source != "gateway":
            continue
        parts = [p for p in ev.attributes.get("participants", []) if isinstance(p, dict) and p.get("host")]
        requestors = [p for p in parts if p.get("requestor")]
        others = [p for p in parts if not p.get("requestor")]
        for p in parts:
            inv = asset(str(p["host"]))
            inv.seen(ev.time, "gateway")
            if p.get("user_id"):
                inv.ae_titles.add(str(p["user_id"]))
        for rq in requestors:
            for ot in others:
                if rq["host"] != ot["host"]:
                    e = edge(str(rq["host"]), str(ot["host"]))
                    name = str(ev.attributes.get("event_name") or ev.kind)
                    e.operations[name] = e.operations.get(name, 0) + 1
    ordered = sorted(assets.values(), key=lambda a: (a.role, a.address))
    return Inventory(assets=tuple(ordered), edges=tuple(sorted(edges.values(), key=lambda e: (e.client, e.server))))


CSV_COLUMNS = ("address", "role", "ports", "ae_titles", "product", "version", "tls", "sources", "first_seen",
               "last_seen")


def to_csv(inv: Inventory) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for a in inv.assets:
        d = a.to_dict()
        w.writerow([" ".join(map(str, d[c])) if isinstance(d[c], list) else ("" if d[c] is None else d[c])
                    for c in CSV_COLUMNS])
    return buf.getvalue()


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


ROLE_SHAPES = {"pacs": ("cylinder", "#fdae61"), "modality": ("box", "#74add1"),
               "workstation": ("component", "#d9ef8b"), "unknown": ("ellipse", "#e0e0e0")}


def to_dot(inv: Inventory) -> str:
    """The network map in Graphviz DOT: one node per asset (shape by role), one edge per client -> server."""
    lines = ["digraph radguard {", '  graph [rankdir=LR, fontname="DejaVu Sans", fontsize=10];',
             '  node [fontname="DejaVu Sans", fontsize=9, style=filled];',
             '  edge [fontname="DejaVu Sans", fontsize=8];']
    for a in inv.assets:
        shape, colour = ROLE_SHAPES[a.role]
        label = "\n".join(x for x in (a.address, ", ".join(sorted(a.ae_titles)),
                                      " ".join(x for x in (a.product, a.version) if x), a.role) if x)
        lines.append(f"  {_q(a.address)} [label={_q(label)}, shape={shape}, fillcolor={_q(colour)}];")
    for e in inv.edges:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(e.operations.items()))
        vol = f"\n{e.objects} objects" if e.objects else ""
        lines.append(f"  {_q(e.client)} -> {_q(e.server)} [label={_q(ops + vol)}, penwidth="
                     f"{1 + min(e.associations, 20) / 5:.1f}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_svg(dot: str) -> str:
    """Render DOT with Graphviz's ``dot`` (Debian package ``graphviz``)."""
    exe = shutil.which("dot")
    if exe is None:
        raise UsageError("Graphviz is not installed (apt-get install graphviz): needed for the network map")
    try:
        proc = subprocess.run([exe, "-Tsvg"], input=dot.encode("utf-8"), capture_output=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"Graphviz dot failed: {exc}") from None
    if proc.returncode != 0:
        raise UsageError(f"Graphviz dot failed: {proc.stderr.decode(errors='replace').strip().splitlines()[:1]}")
    text = proc.stdout.decode("utf-8")
    return text[text.index("<svg"):]


def roles(inv: Inventory) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in inv.assets:
        out[a.role] = out.get(a.role, 0) + 1
    return out

