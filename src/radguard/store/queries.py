"""Aggregated and paginated reads of the store, for pages that must stay fast with a million findings.

Nothing here loads a whole run: counts are ``GROUP BY`` queries, pages are keyset (``after`` a
cursor) or ``LIMIT``/``OFFSET`` queries of ids over the ``(run_id, severity, id)`` and
``(run_id, severity, rule, id)`` indexes (migrations ``0004_console``, ``0005_console_pages``), one
severity and one run at a time, so the order (worst severity first, then newest run, then id) never
needs a sort.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar

from sqlalchemy import Text, cast, func, select

from radguard.models import Asset, Event, Finding, Severity
from radguard.store.api import RunInfo, Store, _run_info
from radguard.store.schema import AssetRow, EventRow, FindingRow, Run

_Q = TypeVar("_Q")

#: severities, worst first (the order of every page)
WORST_FIRST: tuple[str, ...] = tuple(s.value for s in sorted(Severity, key=lambda s: -s.rank))


def severity_counts(store: Store, run_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Findings per run and severity, every severity present (zeros included)."""
    ids = sorted(set(run_ids))
    out: dict[int, dict[str, int]] = {i: dict.fromkeys(WORST_FIRST, 0) for i in ids}
    if not ids:
        return out
    with store.session() as s:
        q = (select(FindingRow.run_id, FindingRow.severity, func.count())
             .where(FindingRow.run_id.in_(ids)).group_by(FindingRow.run_id, FindingRow.severity))
        for run_id, sev, n in s.execute(q):
            out[run_id][sev] = out[run_id].get(sev, 0) + int(n)
    return out


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleGroup:
    """Findings of one rule with one severity in one run: how many, and the first of them."""

    run_id: int
    rule: str
    severity: str
    count: int
    first_id: int
    first: Finding


def rule_groups(store: Store, run_ids: Iterable[int]) -> list[RuleGroup]:
    """One row per (run, rule, severity), with the lowest-id finding of the group."""
    ids = sorted(set(run_ids))
    if not ids:
        return []
    with store.session() as s:
        q = (select(FindingRow.run_id, FindingRow.rule, FindingRow.severity, func.count(), func.min(FindingRow.id))
             .where(FindingRow.run_id.in_(ids))
             .group_by(FindingRow.run_id, FindingRow.rule, FindingRow.severity))
        groups = [(r, rule, sev, int(n), int(first)) for r, rule, sev, n, first in s.execute(q)]
        firsts: dict[int, Finding] = {}
        first_ids = [g[4] for g in groups]
        for i in range(0, len(first_ids), 500):
            for row in s.scalars(select(FindingRow).where(FindingRow.id.in_(first_ids[i:i + 500]))):
                firsts[row.id] = _finding(row)
    return [RuleGroup(run_id=r, rule=rule, severity=sev, count=n, first_id=first, first=firsts[first])
            for r, rule, sev, n, first in groups]


def control_groups(store: Store, run_ids: Iterable[int]) -> list[tuple[str, tuple[str, ...], int]]:
    """(severity, controls, count) of the findings of the runs: the control summary without loading them."""
    ids = sorted(set(run_ids))
    if not ids:
        return []
    with store.session() as s:
        text = cast(FindingRow.controls, Text)
        q = (select(FindingRow.severity, text, func.count()).where(FindingRow.run_id.in_(ids))
             .group_by(FindingRow.severity, text))
        out: dict[tuple[str, tuple[str, ...]], int] = {}
        for sev, controls, n in s.execute(q):
            key = (sev, tuple(json.loads(controls) if controls else ()))
            out[key] = out.get(key, 0) + int(n)  # the same list may be spelled twice by two drivers
    return [(sev, controls, n) for (sev, controls), n in out.items()]


def _finding(r: FindingRow) -> Finding:
    return Finding(rule=r.rule, severity=Severity(r.severity), title=r.title, target=r.target,
                   evidence=dict(r.evidence or {}), remediation=r.remediation, controls=tuple(r.controls or ()))


@dataclass(frozen=True, kw_only=True, slots=True)
class FindingFilter:
    """What a findings page shows: each field narrows it (``None``/empty: no condition)."""

    severities: tuple[str, ...] = ()
    rule: str | None = None
    target: str | None = None  # substring

    def where(self, query: _Q) -> _Q:
        """``query`` (a ``Select`` over findings) with this filter's conditions."""
        q: Any = query
        if self.severities:
            q = q.where(FindingRow.severity.in_(self.severities))
        if self.rule:
            q = q.where(FindingRow.rule == self.rule)
        if self.target:
            escaped = self.target.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(FindingRow.target.like(f"%{escaped}%", escape="\\"))
        out: _Q = q
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class FindingRowInfo:
    """A finding with its place in the store."""

    id: int
    run_id: int
    finding: Finding

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run": self.run_id, **self.finding.to_dict()}


@dataclass(frozen=True, kw_only=True, slots=True)
class Page:
    """One page of findings, the total that matched and the keyset cursor of the next page."""

    total: int
    offset: int
    limit: int
    items: tuple[FindingRowInfo, ...]
    next_after: str | None = None  # :func:`parse_cursor` form of the last item, None on the last page


def cursor_of(item: FindingRowInfo) -> str:
    """The keyset cursor after ``item``: ``severity.run.id`` (e.g. ``high.12.3456``)."""
    return f"{item.finding.severity.value}.{item.run_id}.{item.id}"


def parse_cursor(text: str) -> tuple[str, int, int]:
    """(severity, run id, finding id) of a cursor; ``ValueError`` if malformed."""
    parts = text.split(".")
    if len(parts) != 3 or parts[0] not in WORST_FIRST or not all(p.isdigit() and len(p) <= 12 for p in parts[1:]):
        raise ValueError(f"not a page cursor: {text[:40]!r} (severity.run.id)")
    return parts[0], int(parts[1]), int(parts[2])


def _group_key(sev: str, run: int) -> tuple[int, int]:
    """Page order of a (severity, run) group: worst severity first, then newest run."""
    return WORST_FIRST.index(sev), -run


def findings_page(store: Store, run_ids: Sequence[int], flt: FindingFilter, *, offset: int = 0,
                  limit: int = 50, after: tuple[str, int, int] | None = None) -> Page:
    """The findings of ``run_ids`` matching ``flt``, worst severity first, then newest run, then id.

    A page starts at ``offset`` or, keyset style, just ``after`` a cursor (:func:`parse_cursor`; its
    ``offset`` is then computed). Each (severity, run) group is read over the index
    ``(run_id, severity, [rule,] id)``: ids first (an index-only scan, even past an ``OFFSET``), then
    the page's rows by id, so a deep page never reads the rows it skips.
    """
    runs = sorted(set(run_ids), reverse=True)
    if not runs:
        return Page(total=0, offset=offset, limit=limit, items=())
    with store.session() as s:
        count_q = flt.where(select(FindingRow.run_id, FindingRow.severity, func.count())
                            .where(FindingRow.run_id.in_(runs))).group_by(FindingRow.run_id, FindingRow.severity)
        counts = {(sev, r): int(n) for r, sev, n in s.execute(count_q) if sev in WORST_FIRST}
        total = sum(counts.values())
        groups = sorted(counts, key=lambda g: _group_key(*g))
        first_id: dict[tuple[str, int], int] = {}
        skip = offset
        if after is not None:
            key = _group_key(after[0], after[1])
            start = [g for g in groups if _group_key(*g) >= key]
            offset = sum(counts[g] for g in groups if _group_key(*g) < key)
            if start and _group_key(*start[0]) == key:
                g0 = start[0]
                done = s.execute(flt.where(select(func.count()).select_from(FindingRow).where(
                    FindingRow.run_id == g0[1], FindingRow.severity == g0[0], FindingRow.id <= after[2]))
                ).scalar_one()
                offset += int(done)
                first_id[g0] = after[2]
            groups, skip = start, 0
        ids: list[int] = []
        for g in groups:
            if len(ids) >= limit:
                break
            n = counts[g]
            if skip >= n:
                skip -= n
                continue
            q = flt.where(select(FindingRow.id).where(FindingRow.run_id == g[1], FindingRow.severity == g[0]))
            if g in first_id:
                q = q.where(FindingRow.id > first_id[g])
            got = list(s.scalars(q.order_by(FindingRow.id).offset(skip).limit(limit - len(ids))))
            ids.extend(got)
            skip = 0
        rows = {r.id: r for r in s.scalars(select(FindingRow).where(FindingRow.id.in_(ids)))} if ids else {}
        items = tuple(FindingRowInfo(id=i, run_id=rows[i].run_id, finding=_finding(rows[i])) for i in ids if i in rows)
    more = items and offset + len(items) < total
    return Page(total=total, offset=offset, limit=limit, items=items, next_after=cursor_of(items[-1]) if more else None)


def get_finding(store: Store, finding_id: int) -> FindingRowInfo | None:
    with store.session() as s:
        r = s.get(FindingRow, finding_id)
        return FindingRowInfo(id=r.id, run_id=r.run_id, finding=_finding(r)) if r else None


def rule_names(store: Store, run_ids: Sequence[int]) -> list[str]:
    """Distinct rules of the runs (the choices of a filter)."""
    if not run_ids:
        return []
    with store.session() as s:
        q = select(FindingRow.rule).where(FindingRow.run_id.in_(list(run_ids))).distinct().order_by(FindingRow.rule)
        return [str(r) for r in s.scalars(q)]


def runs_page(store: Store, *, kind: str | None = None, offset: int = 0, limit: int = 50) -> tuple[int, list[RunInfo]]:
    """(total, runs newest first) of one page."""
    with store.session() as s:
        count_q = select(func.count()).select_from(Run)
        q = select(Run).order_by(Run.id.desc()).offset(offset).limit(limit)
        if kind:
            count_q = count_q.where(Run.kind == kind)
            q = q.where(Run.kind == kind)
        total = int(s.execute(count_q).scalar_one())
        return total, [_run_info(r) for r in s.scalars(q)]


def run_kinds(store: Store) -> list[str]:
    with store.session() as s:
        return sorted(str(k) for k in s.scalars(select(Run.kind).distinct()))


def latest_finished(store: Store) -> dict[str, RunInfo]:
    """The latest finished run of each kind (one indexed query per kind)."""
    out: dict[str, RunInfo] = {}
    with store.session() as s:
        for kind in s.scalars(select(Run.kind).distinct()):
            r = s.scalars(select(Run).where(Run.kind == kind, Run.status != "running")
                          .order_by(Run.id.desc()).limit(1)).first()
            if r is not None:
                out[str(kind)] = _run_info(r)
    return out


def assets_page(store: Store, run_ids: Sequence[int], *, offset: int = 0,
                limit: int = 100) -> tuple[int, list[tuple[int, Asset]]]:
    """(total, (run id, asset) of one page) of the runs' assets, newest run first."""
    if not run_ids:
        return 0, []
    with store.session() as s:
        where = AssetRow.run_id.in_(list(run_ids))
        total = int(s.execute(select(func.count()).select_from(AssetRow).where(where)).scalar_one())
        q = select(AssetRow).where(where).order_by(AssetRow.run_id.desc(), AssetRow.id).offset(offset).limit(limit)
        rows = [(r.run_id, Asset(kind=r.kind, target=r.target, product=r.product, version=r.version,
                                 attributes=dict(r.attributes or {}))) for r in s.scalars(q)]
    return total, rows


def fingerprint(store: Store) -> tuple[Any, ...]:
    """A cheap token that changes whenever runs or findings change (caches of aggregates key on it)."""
    with store.session() as s:
        runs = s.execute(select(func.count(), func.max(Run.id), func.max(Run.finished))).one()
        running = s.execute(select(func.count()).select_from(Run).where(Run.status == "running")).scalar_one()
        top = s.execute(select(func.max(FindingRow.id))).scalar_one()
    return (*tuple(runs), running, top)


def counts_by(mapping: Mapping[int, Mapping[str, int]], run_ids: Iterable[int]) -> dict[str, int]:
    """Sum of per-run severity counts."""
    out = dict.fromkeys(WORST_FIRST, 0)
    for r in run_ids:
        for sev, n in mapping.get(r, {}).items():
            out[sev] = out.get(sev, 0) + n
    return out


#: run kinds whose events are the monitor alerts (passive capture and live monitoring)
ALERT_KINDS: tuple[str, ...] = ("pcap", "monitor")


@dataclass(frozen=True, kw_only=True, slots=True)
class EventRowInfo:
    """An event with its place in the store."""

    id: int
    run_id: int | None
    run_kind: str
    event: Event

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run": self.run_id, "layer": self.run_kind, **self.event.to_dict()}


def alerts_page(store: Store, *, severities: Sequence[str] = (), kinds: Sequence[str] = ALERT_KINDS,
                run_id: int | None = None, text: str | None = None, before: int | None = None,
                limit: int = 50) -> tuple[int, list[EventRowInfo]]:
    """(total matching, one page newest first) of the events of ``kinds`` runs; keyset: ids ``< before``."""
    def narrow(q: Any) -> Any:
        q = q.join(Run, Run.id == EventRow.run_id).where(Run.kind.in_(list(kinds)))
        if severities:
            q = q.where(EventRow.severity.in_(list(severities)))
        if run_id is not None:
            q = q.where(EventRow.run_id == run_id)
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(EventRow.summary.like(f"%{escaped}%", escape="\\"))
        return q

    with store.session() as s:
        total = int(s.execute(narrow(select(func.count()).select_from(EventRow))).scalar_one())
        q = narrow(select(EventRow, Run.kind))
        if before is not None:
            q = q.where(EventRow.id < before)
        out = []
        for r, kind in s.execute(q.order_by(EventRow.id.desc()).limit(limit)):
            when = r.time if r.time.tzinfo else r.time.replace(tzinfo=UTC)
            out.append(EventRowInfo(id=r.id, run_id=r.run_id, run_kind=str(kind), event=Event(
                kind=r.kind, source=r.source, summary=r.summary, severity=Severity(r.severity), time=when,
                attributes=dict(r.attributes or {}))))
    return total, out
