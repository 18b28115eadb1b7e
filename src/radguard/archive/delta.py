"""The re-seal of a few changed files on an SQLite store, without SQLAlchemy (issue 15).

:func:`reseal` extends :func:`radguard.archive.quick.reseal_unchanged` (same conditions on the store and
the sealed roots, same single walk merged with the ledger's entries in path order) to a tree in which at
most :data:`MAX_CHANGES` files changed, are new or are gone. It then writes what the full seal
(:func:`radguard.archive.seal.seal`) writes, in one transaction:

- the changed and new files are fingerprinted and checked by :func:`radguard.archive.work.seal_batch`, in
  this process when they are few (:data:`IN_PROCESS`), else on the worker pool; their entries are
  replaced (deleted and inserted in the order of :func:`radguard.archive.tree.iter_files`, so that they get
  the ids the full seal gives them) and their findings recorded; the entries of gone files are deleted;
  unchanged entries are not touched;
- the Merkle roots of each changed root and of its studies are recomputed from the stored leaves (one
  read of ``study_uid, leaf`` in id order from an index, :func:`radguard.archive.merkle.fold`) and signed
  with the ``begin`` record, the run and its signature; an unchanged root's signature is signed again.

A ``kill -9`` leaves the ledger as it was or sealed. Anything the full seal reports otherwise (an
unreadable file, a canary that changed, more changes, another store) returns None before anything is
written, and the full seal runs.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from radguard.archive import keys, quick
from radguard.archive.merkle import MerkleBuilder, fold, hex_leaf_nodes
from radguard.archive.quick import SealSummary, walk_segments
from radguard.models import Finding

#: changed, new and gone files beyond which the full seal (batched transactions) does the work
MAX_CHANGES = 4096
#: files hashed in this process; more go to the worker pool (when there is one), in batches of this size
IN_PROCESS = 256
#: the columns of an entry a seal inserts (:data:`radguard.archive.tables.ENTRIES` but ``id``)
ENTRY_COLUMNS = ("root", "path", "size", "mtime_ns", "dicom", "sop_instance_uid", "series_uid", "study_uid",
                 "sop_class_uid", "transfer_syntax", "file_sha256", "meta_sha256", "header_sha256", "pixel_sha256",
                 "pixel_canonical_sha256", "elements", "layout", "canary", "checks", "checks_version", "run_id",
                 "seen_run", "sealed_at", "leaf")

File = tuple[str, int, int]  # path, size, mtime_ns


@dataclass
class _Delta:
    plan: quick.Root
    files: int = 0
    todo: list[File] = field(default_factory=list)  # changed and new files
    gone: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    found: list[Finding] = field(default_factory=list)


def walk_order(top: str, path: str) -> tuple[tuple[int, str], ...]:
    """Sort key of the files under directory ``top``: the order :func:`radguard.archive.tree.iter_files` walks
    them in (a directory's files by name, then its subdirectories by name, each in full)."""
    *dirs, name = os.path.relpath(path, top).split(os.sep)
    return (*((1, d) for d in dirs), (0, name))


def _in_walk_order(top: str, files: list[File]) -> list[tuple[str, int]]:
    """(path, mtime_ns) of ``files`` in the order of :func:`walk_order`."""
    return sorted(((p, mtime) for p, _s, mtime in files), key=lambda f: walk_order(top, f[0]))


def _diff(conn: sqlite3.Connection, d: _Delta, budget: int) -> int:
    """Merge the walk of ``d.plan.path`` with its entries (both in path order) into ``d``: the files to hash
    and the entries gone; returns the budget of changes left (_Changed when it runs out)."""
    plan = d.plan
    lo, hi = plan.path.rstrip("/") + "/", plan.path.rstrip("/") + "0"
    cur = conn.execute("SELECT path, size, mtime_ns FROM archive_entries WHERE path > ? AND path < ? ORDER BY path",
                       (lo, hi))
    buf: list[File] = []  # entries read and not yet matched, in path order
    for segment in walk_segments(plan.path):
        d.files += len(segment)
        if len(buf) < len(segment):
            buf.extend(cur.fetchmany(len(segment) - len(buf)))
        if buf[:len(segment)] == segment:  # the usual case: a directory's run of unchanged files
            del buf[:len(segment)]
            continue
        for f in segment:  # a change in this run: file by file
            while True:
                if not buf and not (buf := cur.fetchmany(256)):
                    break
                if buf[0][0] >= f[0]:
                    break
                d.gone.append(buf.pop(0)[0])
            if buf and buf[0][0] == f[0]:
                if buf.pop(0) != f:
                    d.todo.append(f)
            else:
                d.todo.append(f)
            if len(d.todo) + len(d.gone) > budget:
                raise quick.Changed(plan.path)
    d.gone.extend(p for p, _s, _m in buf)
    d.gone.extend(p for p, _s, _m in cur)
    budget -= len(d.todo) + len(d.gone)
    if budget < 0:
        raise quick.Changed(plan.path)
    known = _known(conn, d.todo)
    if plan.path == plan.root:
        (count,) = conn.execute("SELECT count(*) FROM archive_entries WHERE root = ?", (plan.root,)).fetchone()
        if count != d.files - len(d.todo) + known + len(d.gone):
            raise quick.Changed(plan.root)
    return budget


def _known(conn: sqlite3.Connection, files: list[File]) -> int:
    """How many of ``files`` have an entry (changed rather than new); _Changed if one is a canary."""
    n = 0
    for k in range(0, len(files), 500):
        part = [f[0] for f in files[k:k + 500]]
        rows = conn.execute(f"SELECT canary FROM archive_entries WHERE path IN ({', '.join('?' * len(part))})",
                            part).fetchall()
        if any(c for (c,) in rows):
            raise quick.Changed(part[0])  # a changed canary: the full seal keeps it one
        n += len(rows)
    return n


def _hash(deltas: list[_Delta], workers: int, decode_pixels: bool) -> None:
    """Fingerprint and check the files to hash (in walk order); _Changed if one cannot be read."""
    from radguard.archive.runner import run_ordered  # (not loaded by a re-seal that hashes nothing)
    from radguard.archive.work import seal_batch

    jobs: list[tuple[_Delta, list[tuple[str, int]]]] = []
    for d in deltas:
        items = _in_walk_order(d.plan.path, d.todo)
        jobs.extend((d, items[k:k + IN_PROCESS]) for k in range(0, len(items), IN_PROCESS))
    many = sum(len(items) for _d, items in jobs) > IN_PROCESS
    batches: Iterator[tuple[list[tuple[str, int]], bool, bool]] = ((items, decode_pixels, True) for _d, items in jobs)
    for (d, _items), results in zip(jobs, run_ordered(seal_batch, batches, workers=workers if many else 1),
                                    strict=True):
        for r in results:
            if r["error"]:
                raise quick.Changed(r["path"])  # an unreadable file: reported by the full seal
            d.rows.append(r["row"])
            d.found.extend(r["findings"])


def reseal(paths: list[str], key: object, params: Mapping[str, Any], *, workers: int = 1,
           decode_pixels: bool = False, url: str | None = None) -> tuple[int, SealSummary] | None:
    """Seal ``paths`` as :func:`radguard.archive.seal.seal` would when at most :data:`MAX_CHANGES` files
    changed; (run id, summary), or None (nothing written) when this store or this tree needs the full seal."""
    if not paths:
        return None
    started = quick.now()
    pub = keys.public_hex(key)
    conn = quick.connect(url)
    if conn is None:
        return None
    try:
        deltas = [_Delta(quick.plan_root(conn, p, pub)) for p in paths]
        if len({d.plan.root for d in deltas}) != len(deltas):
            return None
        budget = MAX_CHANGES
        for d in deltas:
            budget = _diff(conn, d, budget)
            d.plan.files = d.files
        if all(not d.todo and not d.gone for d in deltas):
            return quick.write_unchanged(conn, [d.plan for d in deltas], key, pub, params, started)
        _hash(deltas, workers, decode_pixels)
        return _write(conn, deltas, key, pub, params, started)
    except (quick.Changed, OSError, sqlite3.Error):
        return None
    finally:
        conn.close()


def _write(conn: sqlite3.Connection, deltas: list[_Delta], key: object, pub: str, params: Mapping[str, Any],
           started: str) -> tuple[int, SealSummary] | None:
    summary = SealSummary()
    for d in deltas:
        summary.files += d.files
        summary.hashed += len(d.rows)
        summary.unchanged += d.files - len(d.rows)
        summary.dropped += len(d.gone)
        summary.findings.extend(d.found)
    summary.findings = summary.findings[:10000]  # as many as the full seal keeps
    conn.execute("BEGIN IMMEDIATE")
    try:
        for d in deltas:  # no seal began on the root since it was read
            (latest,) = conn.execute("SELECT max(id) FROM archive_signatures WHERE scope IN ('root', 'begin') "
                                     "AND key = ?", (d.plan.root,)).fetchone()
            if latest != d.plan.last_id:
                conn.execute("ROLLBACK")
                return None
        run_id = conn.execute("INSERT INTO runs (kind, started, finished, status, params, summary) "
                              "VALUES ('seal', ?, NULL, 'running', ?, '{}')",
                              (started, json.dumps(dict(params)))).lastrowid
        assert run_id is not None
        run = MerkleBuilder()
        for d in deltas:
            rec = _seal_root(conn, d, run_id, key, pub)
            summary.roots.append(rec)
            run.add(bytes.fromhex(rec["merkle_root"]))
        summary.run_root = run.root()
        quick.sign_into(conn, key, pub, run_id, "run", str(run_id), summary.run_root, run.count)
        conn.execute("UPDATE runs SET finished = ?, status = 'done', summary = ? WHERE id = ?",
                     (quick.now(), json.dumps(summary.to_dict()), run_id))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return run_id, summary


def _seal_root(conn: sqlite3.Connection, d: _Delta, run_id: int, key: object, pub: str) -> dict[str, Any]:
    """Write the changes of one root and sign it (begin first, as :meth:`Ledger.ensure_root` does)."""
    plan = d.plan
    conn.execute("UPDATE archive_roots SET last_run = ? WHERE path = ?", (run_id, plan.root))
    quick.sign_into(conn, key, pub, run_id, keys.BEGIN, plan.root, plan.root_hash, plan.leaves)
    if not d.rows and not d.gone:  # the root's signature stands: signed again (Ledger.sign_root unchanged)
        quick.sign_into(conn, key, pub, run_id, "root", plan.root, plan.root_hash, plan.leaves)
        return {"root": plan.root, "merkle_root": plan.root_hash, "objects": plan.leaves, "studies": plan.studies}
    now = quick.now()
    if d.rows:
        from radguard.inspect.checks import CHECKS_VERSION  # loaded by the hashing already

        paths = [r["path"] for r in d.rows]
        for k in range(0, len(paths), 500):
            part = paths[k:k + 500]
            conn.execute(f"DELETE FROM archive_entries WHERE path IN ({', '.join('?' * len(part))})", part)
        common = {"root": plan.root, "run_id": run_id, "seen_run": run_id, "sealed_at": now,
                  "checks_version": CHECKS_VERSION, "canary": 0}
        conn.executemany(f"INSERT INTO archive_entries ({', '.join(ENTRY_COLUMNS)}) "
                         f"VALUES ({', '.join('?' * len(ENTRY_COLUMNS))})",
                         [tuple((r | common | {"dicom": int(r["dicom"])})[c] for c in ENTRY_COLUMNS) for r in d.rows])
        conn.executemany("INSERT INTO findings (run_id, rule, severity, title, target, evidence, remediation, "
                         "controls) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         [(run_id, f.rule, f.severity.value, f.title, f.target, json.dumps(dict(f.evidence)),
                           f.remediation, json.dumps(list(f.controls))) for f in d.found])
    for k in range(0, len(d.gone), 500):
        part = d.gone[k:k + 500]
        conn.execute(f"DELETE FROM archive_entries WHERE path IN ({', '.join('?' * len(part))})", part)
    # the leaves in id order, from the index ix_archive_entries_root_leaf alone (migration 0007_archive_leaves)
    stored = conn.execute("SELECT study_uid, leaf FROM archive_entries WHERE root = ? ORDER BY id",
                          (plan.root,)).fetchall()
    leaves = hex_leaf_nodes(leaf for _s, leaf in stored)  # each hashed once: for the root's and its study's tree
    studies: dict[str, list[bytes]] = {}
    for (study, _leaf), node in zip(stored, leaves, strict=True):
        if study:
            studies.setdefault(study, []).append(node)
    records = [("root", plan.root, leaves)] + [("study", uid, ls) for uid, ls in sorted(studies.items())]
    rows = []
    for scope, name, ls in records:
        rh = fold(ls)
        sig = keys.sign(key, keys.signed_message(scope, name, rh, len(ls)))
        rows.append((run_id, scope, name, rh, len(ls), pub, sig, now))
    conn.executemany(quick.SIGNATURE_SQL, rows)
    return {"root": plan.root, "merkle_root": rows[0][3], "objects": len(leaves), "studies": len(studies)}
