"""``radguard audit``: every stateless check on every file, plus ledger verification.

Streams each tree in batches to the workers, each path with its ledger entry: a worker reads each
file once, runs the checks and compares it with its entry in place (:func:`radguard.archive.work.audit_batch`);
findings are written to the store per batch.
Where the tree was sealed it also reports ``missing`` and ``unexpected`` objects, verifies the
signed Merkle roots (``ledger-invalid``) and looks for a ``ransomware-burst`` (thresholds in
:class:`BurstThresholds`, docs/archive.md). 45 CFR 164.308(a)(1)(ii)(D), 164.312(b)/(c)(1).

A root whose seal has not finished (in progress, killed, failed: :meth:`Ledger.unfinished_seal`) is
reported as a state (:class:`UnfinishedSeal`, under ``errors``), not as tampering: its files not yet
sealed are not ``unexpected`` and its root is not expected to match a signature; its entries are still
checked one by one (``ledger-invalid`` ``entries-modified``) and missing objects are still ``missing``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from radguard import rulebook
from radguard.archive import keys
from radguard.archive.ledger import Ledger, leaf_of, signed_message
from radguard.archive.merkle import MerkleBuilder
from radguard.archive.runner import run_ordered
from radguard.archive.tree import Item, batched, iter_files, normalize
from radguard.archive.verify import CANARY, Status
from radguard.archive.work import AuditJob, audit_batch, path_exists
from radguard.inspect.api import unreadable
from radguard.inspect.checks.not_dicom import RULE as NOT_DICOM
from radguard.models import Finding, Severity
from radguard.store.api import RunHandle, Store

BATCH = 256

MISSING = rulebook.rule("missing")
UNEXPECTED = rulebook.rule("unexpected")
BURST = rulebook.rule("ransomware-burst")
LEDGER_INVALID = rulebook.rule("ledger-invalid")


@dataclass(frozen=True)
class BurstThresholds:
    """``ransomware-burst`` fires when at least ``min_count`` sealed objects under a root, and at least
    ``min_share`` of them, were changed/encrypted/removed, with their modification times within
    ``window_s`` seconds of each other (missing objects count without a time). Defaults: archive/rules.toml."""

    min_count: int = BURST.thresholds["min_count"]
    min_share: float = BURST.thresholds["min_share"]
    window_s: float = BURST.thresholds["window_s"]


@dataclass
class UnfinishedSeal:
    """A sealed root whose last seal (run ``run``) did not finish: ``committed`` of the ``files`` audited
    under it have a ledger entry."""

    root: str
    run: int
    files: int = 0
    committed: int = 0

    def message(self) -> str:
        return (f"seal incomplete: {self.committed} of {self.files} files committed under {self.root} "
                f"(seal run {self.run} did not finish); run `radguard seal {self.root}` again")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "seal-incomplete", "root": self.root, "run": self.run, "files": self.files,
                "committed": self.committed, "message": self.message()}


@dataclass
class AuditSummary:
    files: int = 0
    verified: int = 0
    status: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    unexpected: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    sealed_roots: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: roots whose seal did not finish (a state to report, not a finding)
    unfinished: list[UnfinishedSeal] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "verified": self.verified, "status": self.status, "missing": self.missing,
                "unexpected": self.unexpected, "by_rule": self.by_rule, "sealed_roots": self.sealed_roots,
                "seal_incomplete": [u.to_dict() for u in self.unfinished]}

    def errors(self) -> list[dict[str, Any]]:
        """Per-root problems that are states, not findings (README "CLI contract": ``errors``)."""
        return [u.to_dict() for u in self.unfinished]


def check_root(ledger: Ledger, root: str, bad_leaves: int, merkle: str, count: int,
               trusted: str | None, unfinished: bool = False) -> list[Finding]:
    """``ledger-invalid`` for ``root`` given its recomputed leaves and Merkle root.

    ``unfinished``: the root's seal did not finish, so only its entries are checked (each leaf); its
    Merkle root is not signed yet (or no longer matches the previous seal's).
    """
    sig = ledger.latest_signature("root", root)
    problems: list[str] = []
    if bad_leaves:
        problems.append("entries-modified")
    if unfinished:
        pass
    elif sig is None:
        problems.append("no-signature")
    else:
        if sig.root_hash != merkle or sig.leaves != count:
            problems.append("merkle-root-mismatch")
        if not keys.verify(sig.public_key, signed_message("root", root, sig.root_hash, sig.leaves), sig.signature):
            problems.append("bad-signature")
        if trusted and sig.public_key != trusted:
            problems.append("untrusted-key")
    if not problems:
        return []
    return [LEDGER_INVALID.finding(root, {"problems": problems, "entries_modified": bad_leaves, "objects": count,
                                          "merkle_root": merkle, "signed_root": sig.root_hash if sig else None})]


def verify_signatures(ledger: Ledger, roots: list[str], trusted: str | None,
                      unfinished: frozenset[str] = frozenset()) -> list[Finding]:
    """Recompute every leaf and the Merkle root of each sealed root; check the latest signature
    (not for the ``unfinished`` roots, see :func:`check_root`)."""
    out: list[Finding] = []
    for root in roots:
        bad = sum(1 for e in ledger.iter_leaves(root) if e["root"] == root and leaf_of(e) != e["leaf"])
        merkle, count = ledger.merkle_root(root)
        out.extend(check_root(ledger, root, bad, merkle, count, trusted, root in unfinished))
    return out


def audit(store: Store, paths: list[str], run: RunHandle, *, workers: int = 1, dask: str | None = None,
          burst: BurstThresholds | None = None, trusted_key: str | None = None,
          progress: Callable[[int], None] | None = None, keep_findings: int = 10000) -> AuditSummary:
    """Audit ``paths``; findings go to ``run`` as they come (and the first ``keep_findings`` to the summary)."""
    ledger = Ledger(store)
    burst = burst or BurstThresholds()
    summary = AuditSummary()

    def emit(found: list[Finding]) -> None:
        if not found:
            return
        run.add_findings(found)
        for f in found:
            summary.by_rule[f.rule] = summary.by_rule.get(f.rule, 0) + 1
        if len(summary.findings) < keep_findings:
            summary.findings.extend(found[: keep_findings - len(summary.findings)])

    for given in paths:
        path = normalize(given)
        roots = ledger.roots_within(path)
        summary.sealed_roots.extend(r for r in roots if r not in summary.sealed_roots)
        unfinished = _unfinished(ledger, roots, trusted_key, summary)
        # roots containing the audited path are verified whole; roots inside it during the pass below
        inside = [r for r in roots if r == path or r.startswith(path.rstrip("/") + "/")]
        emit(verify_signatures(ledger, [r for r in roots if r not in inside], trusted_key, frozenset(unfinished)))
        merkles = {r: MerkleBuilder() for r in inside}
        bad_leaves = dict.fromkeys(inside, 0)
        changed_mtimes: list[int] = []  # kept as [min, max]: bounded memory
        changed = 0

        def jobs(path: str = path, unfinished: dict[str, UnfinishedSeal] = unfinished) -> Iterator[AuditJob]:
            for chunk in batched(iter_files(path), BATCH):
                summary.files += len(chunk)
                entries = ledger.audit_lookup([i.path for i in chunk if i.error is None])
                if unfinished:
                    _count_committed(unfinished, chunk, entries)
                errs = [i for i in chunk if i.error is not None]
                if errs:
                    emit([unreadable(i.path, i.error) for i in errs if i.error is not None])
                yield [(i.path, entries.get(i.path)) for i in chunk if i.error is None]

        # the ledger side (every leaf recomputed, Merkle roots, missing objects) advances as results
        # come: it uses the main process while the workers hash, instead of after them
        ledger_pass = _LedgerPass(ledger, path, merkles, bad_leaves, summary, emit)
        for results in run_ordered(audit_batch, jobs(), workers=workers, dask=dask):
            found: list[Finding] = []
            for r in results:
                found.extend(r.findings)
                status = r.status
                summary.status[status.value] = summary.status.get(status.value, 0) + 1
                if status in (Status.TAMPERED, Status.REPLACED, Status.TRANSCODED, Status.OK):
                    summary.verified += 1
                if status in (Status.TAMPERED, Status.REPLACED):
                    changed += 1
                    _span(changed_mtimes, r.mtime_ns)
                if status == Status.NEW and _covered(r.path, roots):
                    if any(f.rule == NOT_DICOM.id and f.severity == Severity.CRITICAL for f in r.findings):
                        _span(changed_mtimes, r.mtime_ns)
                    if not (unfinished and _root_of(r.path, unfinished)):  # else: not sealed yet
                        summary.unexpected += 1
                        found.append(UNEXPECTED.finding(r.path, {"dicom": bool(r.sop), "sop_instance_uid": r.sop}))
            emit(found)
            ledger_pass.step(len(results))
            if progress:
                progress(len(results))
        ledger_pass.step(None)
        changed += ledger_pass.missing
        sealed_count = ledger_pass.count
        for sealed_root, builder in merkles.items():
            emit(check_root(ledger, sealed_root, bad_leaves[sealed_root], builder.root(), builder.count, trusted_key,
                            sealed_root in unfinished))
        if sealed_count:
            emit(_burst(path, changed, sealed_count, changed_mtimes, burst))
    return summary


class _LedgerPass:
    """Walks the ledger entries under a path in id order, a step at a time: recomputes each leaf (entries
    edited outside radguard), feeds the Merkle builders of the sealed roots being verified and reports
    sealed objects that are gone (``missing``, plus ``canary-touched`` for a decoy)."""

    def __init__(self, ledger: Ledger, path: str, merkles: dict[str, MerkleBuilder], bad_leaves: dict[str, int],
                 summary: AuditSummary, emit: Callable[[list[Finding]], None]) -> None:
        self._entries = ledger.iter_leaves(path)
        self._merkles, self._bad, self._summary, self._emit = merkles, bad_leaves, summary, emit
        self.count = 0
        self.missing = 0

    def step(self, n: int | None) -> None:
        """Handle the next ``n`` entries (all the rest if None); missing objects are emitted in batches."""
        found: list[Finding] = []
        for e in self._entries if n is None else islice(self._entries, n):
            self.count += 1
            builder = self._merkles.get(e["root"])
            if builder is not None:
                builder.add(bytes.fromhex(e["leaf"]))
                if leaf_of(e) != e["leaf"]:
                    self._bad[e["root"]] += 1
            if not path_exists(e["path"]):
                self._summary.missing += 1
                self.missing += 1
                found.append(MISSING.finding(e["path"], {"sop_instance_uid": e["sop_instance_uid"],
                                                          "sealed_sha256": e["file_sha256"], "size": e["size"]}))
                if e["canary"]:
                    found.append(CANARY.finding(e["path"], {"status": "missing"}))
            if len(found) >= BATCH:
                self._emit(found)
                found = []
        self._emit(found)


def _unfinished(ledger: Ledger, roots: list[str], trusted: str | None,
                summary: AuditSummary) -> dict[str, UnfinishedSeal]:
    """The roots among ``roots`` whose seal did not finish (recorded in ``summary`` once each)."""
    out: dict[str, UnfinishedSeal] = {}
    for root in roots:
        known = next((u for u in summary.unfinished if u.root == root), None)
        if known is None:
            run_id = ledger.unfinished_seal(root, trusted)
            if run_id is None:
                continue
            known = UnfinishedSeal(root, run_id)
            summary.unfinished.append(known)
        out[root] = known
    return out


def _root_of(path: str, roots: dict[str, UnfinishedSeal]) -> UnfinishedSeal | None:
    return next((u for r, u in roots.items() if path == r or path.startswith(r.rstrip("/") + "/")), None)


def _count_committed(roots: dict[str, UnfinishedSeal], chunk: list[Item],
                     entries: dict[str, dict[str, Any]]) -> None:
    for item in chunk:
        u = _root_of(item.path, roots)
        if u is not None:
            u.files += 1
            u.committed += item.path in entries


def _span(span: list[int], value: int) -> None:
    if not span:
        span.extend((value, value))
    else:
        span[0], span[1] = min(span[0], value), max(span[1], value)


def _covered(path: str, roots: list[str]) -> bool:
    return any(path.startswith(r.rstrip("/") + "/") or path == r for r in roots)


def _burst(path: str, changed: int, sealed: int, mtimes: list[int], t: BurstThresholds) -> list[Finding]:
    share = changed / sealed if sealed else 0.0
    if changed < t.min_count or share < t.min_share:
        return []
    span = (max(mtimes) - min(mtimes)) / 1e9 if mtimes else 0.0
    if span > t.window_s:
        return []
    return [BURST.finding(path, {"changed": changed, "sealed": sealed, "share": round(share, 4),
                                 "window_seconds": round(span, 3), "min_count": t.min_count,
                                 "min_share": t.min_share, "max_window_seconds": t.window_s})]
