"""Monitor alerts: the events of the pcap and monitor runs (newest first, filterable) and those runs' findings.

The events are what ``radguard monitor`` / ``radguard pcap`` wrote to the store's timeline (one alert
per finding, summary and targets only, never a PHI value). Pages are keyset (``before=<event id>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from radguard.models import Severity
from radguard.store import queries
from radguard.web.deps import console_of
from radguard.web.state import Console
from radguard.web.views import SEVERITY_NAMES, clean_text, parse_int

router = APIRouter()


def alerts(console: Console, severity: Sequence[str], kind: str, run: str, text: str, before: str) -> dict[str, Any]:
    """One page of alerts and the latest alert-producing runs with their findings by severity."""
    sevs: list[str] = []
    for item in severity:
        for s in item.split(","):
            if s.strip():
                try:
                    sevs.append(Severity.parse(s).value)
                except ValueError as exc:
                    raise HTTPException(400, str(exc)) from None
    kind, text = clean_text(kind, "layer", 32), clean_text(text, "text", 200)
    if kind and kind not in queries.ALERT_KINDS:
        known = ", ".join(queries.ALERT_KINDS)
        raise HTTPException(400, f"The layer of an alert is one of {known}, not {kind[:32]!r}.")
    run_id, before_id = parse_int(run, "run"), parse_int(before, "before")
    store = console.store()
    if run_id is not None:
        info = store.get_run(run_id)
        if info is None:
            raise HTTPException(404, f"No run #{run_id} in the store.")
        if info.kind not in queries.ALERT_KINDS:
            raise HTTPException(400, f"Run #{run_id} is a {info.kind} run: alerts come from pcap and monitor runs.")
    kinds = (kind,) if kind else queries.ALERT_KINDS
    size = console.config.page_size
    total, items = queries.alerts_page(store, severities=sevs, kinds=kinds, run_id=run_id, text=text or None,
                                       before=before_id, limit=size)
    recent = []
    for k in kinds:
        recent += queries.runs_page(store, kind=k, limit=10)[1]
    recent.sort(key=lambda r: -r.id)
    counts = queries.severity_counts(store, [r.id for r in recent])
    query = {"severity": list(dict.fromkeys(sevs)), "kind": kind, "run": run_id or "", "text": text}
    older = items[-1].id if len(items) == size else None
    return {"total": total, "items": items, "older": older, "query": query, "severities": SEVERITY_NAMES,
            "kinds": queries.ALERT_KINDS, "runs": recent[:10], "counts": counts, "before": before_id}


def _qs(query: dict[str, Any], **change: Any) -> str:
    from urllib.parse import urlencode

    out = {k: v for k, v in {**query, **change}.items() if v not in ("", None, [])}
    return urlencode(out, doseq=True)


@router.get("/alerts", include_in_schema=False)
def alerts_page(request: Request, severity: list[str] = Query([]), kind: str = "", run: str = "", text: str = "",
                before: str = "") -> Response:
    console = console_of(request)
    data = alerts(console, severity, kind, run, text, before)
    return console.render("web/alerts.html.j2", {**data, "qs": _qs}, request=request)


@router.get("/api/alerts", tags=["monitor"])
def alerts_json(request: Request, severity: list[str] = Query([]), kind: str = "", run: str = "", text: str = "",
                before: str = "") -> dict[str, Any]:
    """Monitor alerts: events of ``pcap`` and ``monitor`` runs, newest first, filtered by severity (several),
    layer (``kind``), run and text; ``next`` is the query string of the older page (``before=<event id>``).
    ``runs``: the latest alert-producing runs with their findings by severity (details: ``/api/findings?run=``)."""
    data = alerts(console_of(request), severity, kind, run, text, before)
    return {"schema": "radguard.alerts/1", "total": data["total"],
            "alerts": [i.to_dict() for i in data["items"]],
            "next": _qs(data["query"], before=data["older"]) if data["older"] else None,
            "runs": [{**r.to_dict(), "findings": data["counts"][r.id]} for r in data["runs"]]}
