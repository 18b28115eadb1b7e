"""Archive integrity per sealed root: last seal, last audit, ledger verified or not, the audit's findings.

A root's ledger counts as **verified** when its last audit finished after its last seal without a
``ledger-invalid`` finding for that root (the audit recomputed the Merkle root of the ledger entries
and checked the Ed25519 signature of the sealed root: docs/archive.md "Ledger format", RFC 6962 /
RFC 8032); **invalid** when that audit reported one; otherwise it is *not audited since the last
seal*. Nothing here reads ledger entries one by one: the object count is the signed root's leaf count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func, or_, select
from starlette.responses import Response

from radguard.archive.audit import LEDGER_INVALID
from radguard.archive.ledger import RootRow, SignatureRow
from radguard.store import RunInfo, Store, queries
from radguard.store.schema import FindingRow
from radguard.web.deps import console_of, render_view
from radguard.web.state import Console
from radguard.web.views import SEVERITY_NAMES

router = APIRouter()
#: audit runs read to find each root's last audit
AUDITS_READ = 200


def _covers(run: RunInfo, root: str) -> bool:
    paths = [str(p) for p in (run.summary.get("sealed_roots") or run.params.get("paths") or [])]
    return any(root == p or root.startswith(p.rstrip("/") + "/") or p.startswith(root.rstrip("/") + "/")
               for p in paths)


def _under(root: str) -> Any:
    escaped = root.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(FindingRow.target == root, FindingRow.target.like(f"{escaped}/%", escape="\\"))


def _problems(evidence: Any) -> list[str]:
    problems = evidence.get("problems") if isinstance(evidence, dict) else None
    return [str(p) for p in problems] if isinstance(problems, list) else []


def _root_findings(store: Store, run_id: int, root: str) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Findings by severity of ``run_id`` under ``root``, and the ``ledger-invalid`` ones (evidence: no PHI)."""
    counts = dict.fromkeys(queries.WORST_FIRST, 0)
    with store.session() as s:
        q = (select(FindingRow.severity, func.count()).where(FindingRow.run_id == run_id, _under(root))
             .group_by(FindingRow.severity))
        for sev, n in s.execute(q):
            counts[sev] = counts.get(sev, 0) + int(n)
        q2 = (select(FindingRow).where(FindingRow.run_id == run_id, FindingRow.rule == str(LEDGER_INVALID.id),
                                       FindingRow.target == root).limit(5))
        bad = [{"id": r.id, "problems": _problems(r.evidence)} for r in s.scalars(q2)]
    return counts, bad


def integrity(console: Console) -> dict[str, Any]:
    """One record per sealed root (the shape of ``radguard.archive-integrity/1``)."""
    store = console.store()
    with store.session() as s:
        roots = list(s.scalars(select(RootRow).order_by(RootRow.path)))
        signatures: dict[str, tuple[int, datetime, str, int]] = {}
        for r in roots:
            row = s.scalars(select(SignatureRow).where(SignatureRow.scope == "root", SignatureRow.key == r.path)
                            .order_by(SignatureRow.id.desc()).limit(1)).first()
            if row is not None:
                signatures[r.path] = (row.leaves, row.created, row.public_key, row.run_id)
    audits = [a for a in store.runs(kind="audit", limit=AUDITS_READ) if a.status != "running"]
    out = []
    for r in roots:
        sig = signatures.get(r.path)
        seal_id = sig[3] if sig else r.last_run
        seal = store.get_run(seal_id) if seal_id is not None else None
        audit = next((a for a in audits if _covers(a, r.path)), None)
        counts, invalid = _root_findings(store, audit.id, r.path) if audit else ({}, [])
        if audit is None or (seal is not None and audit.id < seal.id):
            state = "not audited since the last seal"
        elif audit.status != "done":
            state = f"audit {audit.status}"
        else:
            state = "invalid" if invalid else "verified"
        out.append({"root": r.path, "sealed_since": r.created, "last_seal": seal, "last_audit": audit,
                    "ledger": state, "objects": sig[0] if sig else None, "signed": sig[1] if sig else None,
                    "public_key": sig[2][:16] if sig else None, "findings": counts, "ledger_invalid": invalid})
    return {"roots": out, "severities": SEVERITY_NAMES}


def _iso(d: Any) -> str | None:
    return d.isoformat() if d is not None else None


@router.get("/archive", include_in_schema=False)
def integrity_page(request: Request) -> Response:
    return render_view(request, "web/archive.html.j2", integrity)


@router.get("/api/archive", tags=["archive"])
def integrity_json(request: Request) -> dict[str, Any]:
    """Archive integrity per sealed root: last seal and audit runs, ``ledger`` (``verified``, ``invalid``,
    ``not audited since the last seal``, ``audit failed``), signed object count and key (first 16 hex digits),
    the last audit's findings under the root by severity and its ``ledger-invalid`` findings."""
    data = integrity(console_of(request))
    return {"schema": "radguard.archive-integrity/1", "roots": [
        {**r, "sealed_since": _iso(r["sealed_since"]), "signed": _iso(r["signed"]),
         "last_seal": r["last_seal"].to_dict() if r["last_seal"] else None,
         "last_audit": r["last_audit"].to_dict() if r["last_audit"] else None} for r in data["roots"]]}
