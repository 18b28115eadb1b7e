"""What each page shows, computed once for the HTML page and its JSON twin.

Every function takes the :class:`~radguard.web.state.Console` and plain arguments and returns plain
data; bad input raises ``HTTPException`` (400 malformed, 404 unknown) before the store is touched
where it can.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException

from radguard.errors import UsageError
from radguard.models import Severity
from radguard.report import plots
from radguard.report.diff import diff_findings
from radguard.report.posture import SEVERITIES, Posture, build_posture, layer_of
from radguard.store import RunInfo, queries
from radguard.store.console import Acceptance, acceptances_for, list_acceptances
from radguard.web.state import Console

SEVERITY_NAMES: tuple[str, ...] = tuple(s.value for s in SEVERITIES)
#: run kinds whose last date the overview names, with how people call them
MILESTONES: tuple[tuple[str, str], ...] = (("scan", "Last scan"), ("seal", "Last seal"), ("audit", "Last audit"),
                                           ("exercise", "Last exercise"))


def parse_int(value: str | None, name: str, *, minimum: int = 1) -> int | None:
    """An optional positive integer query parameter (400 if malformed)."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 12 or int(text) < minimum:
        raise HTTPException(400, f"{name} must be a whole number ≥ {minimum}, not {value[:40]!r}.")
    return int(text)


#: the largest id a path may name (SQLite's and PostgreSQL's BIGINT); larger ids are unknown (404)
MAX_ID = 2**63 - 1


def known_id(value: int, what: str) -> int:
    """``value`` if it can name a row; 404 otherwise (the store is not asked)."""
    if not 1 <= value <= MAX_ID:
        raise HTTPException(404, f"No {what} #{value} in the store."[:120])
    return value


def clean_text(value: str, name: str, limit: int) -> str:
    """A free-text filter without control characters (NUL breaks PostgreSQL) and at most ``limit`` long (400)."""
    if len(value) > limit:
        raise HTTPException(400, f"The {name} filter is too long (≤ {limit} characters).")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise HTTPException(400, f"The {name} filter contains a control character.")
    return value.strip()


def overview(console: Console) -> dict[str, Any]:
    """Posture (the same numbers as ``radguard report``), last dates, overdue reviews, gateways."""
    store = console.store()
    key = queries.fingerprint(store)
    posture: Posture = console.cached("posture", key, lambda: build_posture(store, findings=False))
    latest: dict[str, RunInfo] = console.cached("latest", key, lambda: queries.latest_finished(store))
    now = datetime.now(UTC)
    overdue = [a for a in list_acceptances(store, limit=500) if a.expires <= now]
    from radguard.govern.obligations import obligation_status
    from radguard.web.gateways import gateway_states

    # HIPAA obligations with dates (scan every 6 months, restore test, training, exercise, ...): not cached,
    # answers and records change them without a new run
    obligations = [o for o in obligation_status(store, now=now) if o.overdue]

    return {
        "posture": posture,
        "severities": SEVERITY_NAMES,
        "milestones": [(label, latest.get(kind)) for kind, label in MILESTONES],
        "overdue": overdue,
        "obligations": obligations,
        "gateways": gateway_states(console),
    }


def overview_json(data: dict[str, Any]) -> dict[str, Any]:
    posture: Posture = data["posture"]
    return {
        "schema": "radguard.overview/1",
        **posture.to_dict(findings_limit=0),
        "last": {label: (run.to_dict() if run else None) for label, run in data["milestones"]},
        "overdue_reviews": [a.to_dict() for a in data["overdue"]],
        "overdue_obligations": [o.to_dict() for o in data["obligations"]],
        "gateways": data["gateways"],
    }


def plot_svg(console: Console, name: str) -> str:
    store = console.store()
    key = queries.fingerprint(store)
    posture: Posture = console.cached("posture", key, lambda: build_posture(store, findings=False))

    def draw() -> str:
        if name == "layers":
            return plots.severity_bars([(lay.label, lay.counts) for lay in posture.layers],
                                       title="Open findings by layer")
        return plots.trend_lines([(t.kind, t.started, t.counts) for t in posture.trend],
                                 title="Critical + high findings per run")

    def network() -> str:
        from radguard.govern.inventory import build_inventory, render_svg, to_dot

        return render_svg(to_dot(build_inventory(store)))

    if name not in ("layers", "trend", "network"):
        raise HTTPException(404, f"No plot named {name!r}.")
    try:
        svg: str = console.cached(f"plot-{name}", key, network if name == "network" else draw)
    except UsageError as exc:  # Graphviz missing or failing: say so, the rest of the console works
        raise HTTPException(503, str(exc)) from None
    return svg


@dataclass(frozen=True, kw_only=True, slots=True)
class FindingsQuery:
    """The filters of the findings page, validated."""

    severities: tuple[str, ...] = ()
    rule: str = ""
    kind: str = ""
    target: str = ""
    run: int | None = None
    page: int = 1
    after: str = ""  # keyset cursor of the page before (queries.parse_cursor), wins over ``page``

    @classmethod
    def parse(cls, severity: Sequence[str], rule: str, kind: str, target: str, run: str, page: str,
              after: str = "") -> FindingsQuery:
        sevs: list[str] = []
        for item in severity:
            for s in item.split(","):
                if not s.strip():
                    continue
                try:
                    sevs.append(Severity.parse(s).value)
                except ValueError as exc:
                    raise HTTPException(400, str(exc)) from None
        rule, kind = clean_text(rule, "rule", 64), clean_text(kind, "layer", 32)
        target = clean_text(target, "target", 256)
        after = after.strip()
        if after:
            try:
                queries.parse_cursor(after)
            except ValueError as exc:
                raise HTTPException(400, f"Malformed page cursor: {exc}.") from None
        return cls(severities=tuple(dict.fromkeys(sevs)), rule=rule.strip(), kind=kind.strip(),
                   target=target.strip(), run=parse_int(run, "run"), page=parse_int(page, "page") or 1, after=after)

    def params(self, **change: Any) -> dict[str, Any]:
        """Query parameters reproducing this query (for links), with ``change`` applied."""
        out: dict[str, Any] = {"severity": list(self.severities), "rule": self.rule, "kind": self.kind,
                               "target": self.target, "run": self.run or "", "page": self.page,
                               "after": self.after}
        out.update(change)
        return {k: v for k, v in out.items() if v not in ("", None, [])}

    def qs(self, **change: Any) -> str:
        """The query string of :meth:`params` (for links in pages)."""
        from urllib.parse import urlencode

        return urlencode(self.params(**change), doseq=True)


def findings(console: Console, q: FindingsQuery) -> dict[str, Any]:
    """One page of findings: of one run, or the open ones (latest finished run of each kind)."""
    store = console.store()
    kinds = queries.run_kinds(store)
    if q.kind and q.kind not in kinds:
        raise HTTPException(400, f"No layer {q.kind!r} in the store (known: {', '.join(kinds) or 'none'}).")
    run = None
    if q.run is not None:
        run = store.get_run(q.run)
        if run is None:
            raise HTTPException(404, f"No run #{q.run} in the store.")
        if q.kind and run.kind != q.kind:
            raise HTTPException(400, f"Run #{run.id} is a {run.kind} run, not {q.kind}.")
        run_ids = [run.id]
    else:
        latest = queries.latest_finished(store)
        run_ids = [r.id for k, r in latest.items() if not q.kind or k == q.kind]
    size = console.config.page_size
    flt = queries.FindingFilter(severities=q.severities, rule=q.rule or None, target=q.target or None)
    after = queries.parse_cursor(q.after) if q.after else None
    page = queries.findings_page(store, run_ids, flt, offset=(q.page - 1) * size, limit=size, after=after)
    number = page.offset // size + 1  # a cursor's page is computed from its position
    kind_of = {r.id: r.kind for r in store.runs(limit=500)}
    accepted = _accepted(console, [(i.finding.rule, i.finding.target) for i in page.items])
    return {"query": q, "page": page, "number": number, "pages": max(1, -(-page.total // size)), "run": run,
            "kinds": kinds, "rules": queries.rule_names(store, run_ids)[:500], "severities": SEVERITY_NAMES,
            "kind_of": kind_of, "accepted": accepted, "recent_runs": store.runs(limit=100)}


def _accepted(console: Console, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Acceptance]:
    out: dict[tuple[str, str], Acceptance] = {}
    for a in acceptances_for(console.store(), keys):
        out.setdefault((a.rule, a.target), a)
    return out


def finding_detail(console: Console, finding_id: int) -> dict[str, Any]:
    store = console.store()
    item = queries.get_finding(store, known_id(finding_id, "finding"))
    if item is None:
        raise HTTPException(404, f"No finding #{finding_id} in the store.")
    run = store.get_run(item.run_id)
    from radguard import catalog

    controls = []
    for ref in item.finding.controls:
        try:
            c = catalog.resolve(ref)
            controls.append((ref, c.title, c.framework))
        except (KeyError, ValueError):
            controls.append((ref, "", ref.partition(":")[0]))
    history = acceptances_for(store, [(item.finding.rule, item.finding.target)], include_expired=True)
    return {"item": item, "run": run, "layer": layer_of(run.kind).label if run else "", "controls": controls,
            "acceptances": history, "now": datetime.now(UTC)}


def diff(console: Console, a: str, b: str) -> dict[str, Any]:
    """New / fixed / re-rated / unchanged findings between two runs of the same kind."""
    ra, rb = parse_int(a, "a"), parse_int(b, "b")
    if ra is None or rb is None:
        raise HTTPException(400, "Give two runs to compare: a (older) and b (newer).")
    store = console.store()
    runs = []
    for rid in (ra, rb):
        info = store.get_run(rid)
        if info is None:
            raise HTTPException(404, f"No run #{rid} in the store.")
        runs.append(info)
    if runs[0].kind != runs[1].kind:
        raise HTTPException(400, f"Run #{ra} is a {runs[0].kind} run and #{rb} a {runs[1].kind} run: "
                                 "only runs of the same kind can be compared.")
    d = diff_findings(store.findings(ra), store.findings(rb))
    return {"a": runs[0], "b": runs[1], "diff": d}


def diff_json(data: dict[str, Any]) -> dict[str, Any]:
    d = data["diff"]
    return {"schema": "radguard.findings-diff/1", "run_a": data["a"].id, "run_b": data["b"].id,
            "new": [f.to_dict() for f in d.new], "fixed": [f.to_dict() for f in d.fixed],
            "unchanged": [f.to_dict() for f in d.unchanged],
            "changed_severity": [{"before": x.to_dict(), "after": y.to_dict()} for x, y in d.changed_severity],
            "findings": [f.to_dict() for f in d.new]}


def parse_acceptance(reason: str, expires: str, *, now: datetime | None = None) -> tuple[str, datetime]:
    """A reason (1-500 characters) and an expiry date within a year (400 otherwise)."""
    reason = " ".join(reason.split())
    if not reason or len(reason) > 500:
        raise HTTPException(400, "Give a reason (1 to 500 characters) for accepting this risk.")
    try:
        day = datetime.strptime(expires.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise HTTPException(400, f"The expiry must be a date like 2030-01-31, not {expires[:40]!r}.") from None
    now = now or datetime.now(UTC)
    if day <= now or (day - now).days > 366:
        raise HTTPException(400, "The expiry must be in the future and within a year: accepted risks are reviewed.")
    return reason, day


def runs(console: Console, kind: str, page: str) -> dict[str, Any]:
    p = parse_int(page, "page") or 1
    size = console.config.page_size
    kind = clean_text(kind, "layer", 32)
    total, items = queries.runs_page(console.store(), kind=kind or None, offset=(p - 1) * size, limit=size)
    counts = queries.severity_counts(console.store(), [r.id for r in items])
    return {"runs": items, "total": total, "page": p, "pages": max(1, -(-total // size)), "kind": kind,
            "kinds": queries.run_kinds(console.store()), "counts": counts, "severities": SEVERITY_NAMES}


def run_detail(console: Console, run_id: int) -> dict[str, Any]:
    store = console.store()
    info = store.get_run(known_id(run_id, "run"))
    if info is None:
        raise HTTPException(404, f"No run #{run_id} in the store.")
    counts = queries.severity_counts(store, [run_id])[run_id]
    return {"run": info, "counts": counts, "layer": layer_of(info.kind).label, "severities": SEVERITY_NAMES}


def assets(console: Console, page: str) -> dict[str, Any]:
    p = parse_int(page, "page") or 1
    store = console.store()
    latest = queries.latest_finished(store)
    size = 100
    total, rows = queries.assets_page(store, [r.id for r in latest.values()], offset=(p - 1) * size, limit=size)
    kind_of = {r.id: k for k, r in latest.items()}
    return {"assets": rows, "total": total, "page": p, "pages": max(1, -(-total // size)), "kind_of": kind_of}


def finding_json(item: queries.FindingRowInfo, kind: str | None = None) -> dict[str, Any]:
    return {**item.to_dict(), **({"layer": kind} if kind else {})}



