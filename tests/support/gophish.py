"""GoPhish campaign results as GoPhish itself writes them, for import tests.

Shapes (gophish/gophish ``models``): ``GET /api/campaigns/{id}/results`` returns ``CampaignResults``
``{"id", "name", "status", "results": [Result], "timeline": [Event]}``; a ``Result`` is ``{"id" (7-character
result id), "status", "ip", "latitude", "longitude", "send_date", "reported", "modified_date", "email",
"first_name", "last_name", "position"}`` (the recipient fields come last: ``BaseRecipient`` is embedded at
the end of the struct); an ``Event`` is ``{"campaign_id", "email", "time", "message", "details"}`` with
``details`` a JSON *string*. Statuses and event messages are the ``models.go`` constants. Go writes times
as RFC 3339 with nanoseconds and compact JSON on one line. The results page's "Export CSV > Results" is
Papa Parse ``unparse`` of the same result objects (header from the keys, ``\\r\\n`` line ends,
``escapeFormulae``: a ``'`` before a leading ``= + - @``).
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

#: outcome -> (final result status, event messages in order)
OUTCOMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "sent": ("Email Sent", ("Email Sent",)),
    "opened": ("Email Opened", ("Email Sent", "Email Opened")),
    "clicked": ("Clicked Link", ("Email Sent", "Email Opened", "Clicked Link")),
    "submitted": ("Submitted Data", ("Email Sent", "Email Opened", "Clicked Link", "Submitted Data")),
    "error": ("Error", ("Error Sending Email",)),
}
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class Target:
    email: str
    first_name: str
    last_name: str
    position: str
    outcome: str  # a key of OUTCOMES
    reported: bool = False


def _go_time(t: datetime) -> str:
    """Go's RFC 3339 with nanoseconds (time.Time MarshalJSON), UTC."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}{t.microsecond % 7:03d}Z"


def campaign_results(campaign_id: int, name: str, targets: Sequence[Target], *, launched: datetime | None = None,
                     seed: int = 7) -> dict[str, Any]:
    """The JSON document of ``GET /api/campaigns/{campaign_id}/results``."""
    rnd = random.Random(seed)
    start = launched or datetime(2026, 10, 6, 8, 30, tzinfo=UTC)
    results: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = [{"campaign_id": campaign_id, "email": "", "time": _go_time(start),
                                       "message": "Campaign Created", "details": ""}]
    for n, t in enumerate(targets):
        status, messages = OUTCOMES[t.outcome]
        when = start + timedelta(seconds=20 * n + rnd.randint(0, 9), microseconds=rnd.randint(0, 999_999))
        sent = when if messages[0] == "Email Sent" else None
        last = when
        ip = ""
        for msg in messages:
            last = last + timedelta(minutes=rnd.randint(1, 90))
            details = ""
            if msg in ("Email Opened", "Clicked Link", "Submitted Data"):
                ip = f"127.0.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
                payload: dict[str, list[str]] = {"rid": ["x"]}
                if msg == "Submitted Data":
                    payload |= {"username": ["(not kept)"], "password": ["(not kept)"]}
                agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
                details = json.dumps({"payload": payload, "browser": {"address": ip, "user-agent": agent}})
            elif msg == "Error Sending Email":
                details = json.dumps({"error": "454 4.7.0 Temporary authentication failure"})
            timeline.append({"campaign_id": campaign_id, "email": t.email, "time": _go_time(last), "message": msg,
                             "details": details})
        if t.reported:
            last = last + timedelta(minutes=rnd.randint(1, 30))
            timeline.append({"campaign_id": campaign_id, "email": t.email, "time": _go_time(last),
                             "message": "Email Reported", "details": ""})
        results.append({
            "id": "".join(rnd.choice(_ALNUM) for _ in range(7)), "status": status, "ip": ip,
            "latitude": 0, "longitude": 0,
            "send_date": _go_time(sent) if sent else "0001-01-01T00:00:00Z", "reported": t.reported,
            "modified_date": _go_time(last), "email": t.email, "first_name": t.first_name,
            "last_name": t.last_name, "position": t.position})
    timeline.sort(key=lambda e: e["time"])
    return {"id": campaign_id, "name": name, "status": "Completed", "results": results, "timeline": timeline}


def results_json(doc: dict[str, Any]) -> str:
    """Compact JSON on one line, as Go's encoding/json writes it."""
    return json.dumps(doc, separators=(",", ":"))


def _papa_cell(value: Any) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def results_csv(doc: dict[str, Any], *, bom: bool = True) -> str:
    """The results page's "Export CSV > Results" of ``doc`` (Papa Parse unparse, escapeFormulae)."""
    rows = doc["results"]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(list(rows[0]))
    for r in rows:
        w.writerow([_papa_cell(v) for v in r.values()])
    return ("\ufeff" if bom else "") + out.getvalue().removesuffix("\r\n")
