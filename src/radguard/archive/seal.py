"""``radguard seal``: build the signed ledger (45 CFR 164.312(c)(2), 164.308(a)(7)(ii)(A)).

Streams the tree in batches: unchanged files (same size and mtime as their entry) are only
remembered as seen (8 bytes each, nothing is written for them) unless ``rehash``; changed and new
ones are fingerprinted by the workers; each group of batches is one transaction (a kill -9 loses at
most the group in flight, never tears the ledger). A seal opens each root with a signed ``begin``
record; when a walk completes, entries of files that are gone are dropped and the Merkle roots of
the sealed root and its studies, and of the run, are signed. Between the two the root is an
unfinished seal, which ``audit`` reports as such (run ``seal`` again). A re-seal that changes no
entry of a root whose previous seal finished signs that seal's Merkle root again instead of reading
every leaf: its cost is the walk and one indexed look-up per file.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from radguard.archive.ledger import Ledger
from radguard.archive.quick import SealSummary as SealSummary
from radguard.archive.runner import run_ordered
from radguard.archive.tree import Item, PathSet, batched, iter_files, normalize
from radguard.archive.work import SealJob, seal_batch
from radguard.inspect.checks import CHECKS_VERSION
from radguard.models import Finding
from radguard.store.api import RunHandle, Store

BATCH = 256
#: files walked per ledger look-up (one query for their sizes and modification times)
LOOKUP = 2048
#: worker batches written per ledger transaction (a kill -9 loses at most these and the ones in flight)
COMMIT_EVERY = 4

Progress = Callable[[int], None]


def seal(store: Store, paths: list[str], key: object, run: RunHandle, *, workers: int = 1, dask: str | None = None,
         rehash: bool = False, decode_pixels: bool = False, canaries: frozenset[str] = frozenset(),
         progress: Progress | None = None, keep_findings: int = 10000) -> SealSummary:
    """Seal ``paths`` into the ledger of ``store`` and sign their roots with ``key``."""
    ledger = Ledger(store)
    summary = SealSummary()
    root_hashes: list[str] = []
    for given in paths:
        path = normalize(given)
        root = ledger.sealed_root_for(path) or path
        settled = ledger.ensure_root(root, run.id, key)  # signed begin: until the root is signed, audit says unfinished
        seen = PathSet()  # every path with an entry after this walk: the others are gone
        existing: deque[set[str] | None] = deque()  # per job in flight: its paths that have an entry

        def jobs(path: str = path, seen: PathSet = seen, existing: deque[set[str] | None] = existing
                 ) -> Iterator[SealJob]:
            for chunk in batched(iter_files(path), LOOKUP):
                todo, errors, known = _plan(ledger, chunk, rehash, seen, summary)
                summary.errors += len(errors)
                if errors:
                    _record_errors(run, errors, summary, keep_findings)
                for k in range(0, len(todo), BATCH):  # unchanged files: no round trip, no write
                    part = todo[k:k + BATCH]
                    existing.append(None if known is None else {i.path for i in part if i.path in known})
                    yield [(i.path, i.mtime_ns) for i in part], decode_pixels, True

        group = _Group()
        with ledger.bulk():
            _collect(ledger, root, run, jobs(), group, seen, summary, workers=workers, dask=dask,
                     canaries=canaries, existing=existing, progress=progress, keep_findings=keep_findings)
        dropped = ledger.drop_unseen(path, root, seen)
        summary.dropped += dropped
        changed = group.written > 0 or dropped > 0 or not settled
        rec = ledger.sign_root(root, run.id, key, unchanged=not changed)
        summary.roots.append(rec)
        root_hashes.append(rec["merkle_root"])
    summary.run_root = ledger.sign_run(run.id, root_hashes, key)
    return summary


def _collect(ledger: Ledger, root: str, run: RunHandle, jobs: Iterator[SealJob], group: _Group, seen: PathSet,
             summary: SealSummary, *, workers: int, dask: str | None, canaries: frozenset[str],
             existing: deque[set[str] | None], progress: Progress | None, keep_findings: int) -> None:
    """Run the jobs on the workers and write their results, :data:`COMMIT_EVERY` batches a transaction."""
    for results in run_ordered(seal_batch, jobs, workers=workers, dask=dask):
        found: list[Finding] = []
        for r in results:
            found.extend(r["findings"])
            if r["error"]:
                summary.errors += 1
                continue
            group.sealed.append((r["row"], r["path"] in canaries))
            seen.add(r["path"])
        group.add_existing(existing.popleft())
        group.found.extend(found)
        group.batches += 1
        if len(summary.findings) < keep_findings:
            summary.findings.extend(found[: keep_findings - len(summary.findings)])
        if group.batches >= COMMIT_EVERY:
            summary.hashed += group.flush(ledger, root, run)
        if progress:
            progress(len(results))
    summary.hashed += group.flush(ledger, root, run)


@dataclass
class _Group:
    """Results of up to :data:`COMMIT_EVERY` worker batches, written in one transaction."""

    sealed: list[tuple[dict[str, Any], bool]] = field(default_factory=list)
    found: list[Finding] = field(default_factory=list)
    existing: set[str] | None = field(default_factory=set)
    batches: int = 0
    #: entries written by every flush so far
    written: int = 0

    def add_existing(self, known: set[str] | None) -> None:
        if known is None or self.existing is None:
            self.existing = None
        else:
            self.existing |= known

    def flush(self, ledger: Ledger, root: str, run: RunHandle) -> int:
        """Write the group; returns the number of entries written."""
        if not self.batches:
            return 0
        n = ledger.write_batch(root, run.id, self.sealed, CHECKS_VERSION, existing=self.existing)
        if self.found:
            run.add_findings(self.found)
        self.sealed, self.found, self.existing, self.batches = [], [], set(), 0
        self.written += n
        return n


def _plan(ledger: Ledger, chunk: list[Item], rehash: bool, seen: PathSet,
          summary: SealSummary) -> tuple[list[Item], list[Item], set[str] | None]:
    """Split a chunk into files to hash, unreadable ones and (unless ``rehash``) the paths with an entry;
    unchanged files (same size and mtime as their entry) go to ``seen``."""
    errors = [i for i in chunk if i.error is not None]
    ok = [i for i in chunk if i.error is None]
    summary.files += len(chunk)
    if rehash:
        return ok, errors, None
    known = ledger.stat_lookup([i.path for i in ok])
    todo: list[Item] = []
    for i in ok:
        if known.get(i.path) == (i.size, i.mtime_ns):
            seen.add(i.path)
            summary.unchanged += 1
        else:
            todo.append(i)
    return todo, errors, set(known)


def _record_errors(run: RunHandle, errors: list[Item], summary: SealSummary, keep: int) -> None:
    from radguard.inspect.api import unreadable

    found = [unreadable(i.path, i.error) for i in errors if i.error is not None]
    run.add_findings(found)
    if len(summary.findings) < keep:
        summary.findings.extend(found)


def plant_canaries(path: str, count: int) -> list[str]:
    """Write ``count`` decoy DICOM objects under ``path`` (synthetic, no real patient) and return their paths."""
    from radguard.archive.canary import write_decoys

    return write_decoys(os.path.abspath(path), count)
