"""The re-seal of an unchanged archive on an SQLite store, without SQLAlchemy (issue 15).

A re-seal in which no file changed writes no entry: it only signs, for this run, a ``begin`` record and
the Merkle root of each sealed root again (:meth:`radguard.archive.ledger.Ledger.sign_root` ``unchanged``),
then the run's root. Its cost should be that of stat-ing the tree; importing SQLAlchemy and the table
mappings alone costs several times that at 40,000 files. :func:`reseal_unchanged` does that seal with the
standard library's :mod:`sqlite3` when it can prove, before writing anything, that the full seal would
change no entry:

- the store is an existing SQLite file at the shipped schema (:mod:`radguard.store.lite`);
- each path lies in exactly one sealed root, which holds no other sealed root, whose latest record is its
  root signature (the seal before finished), made by this key and valid;
- the walk of each path and the ledger's entries under it, both in path order, are equal: the same paths
  with the same size and modification time (a merge, one streaming query a path), no unreadable entry,
  and, for a whole root, as many entries in the root as the walk found.

Then one transaction (``BEGIN IMMEDIATE``; it first checks that no seal began on these roots meanwhile)
writes what the full seal would: the run (done, with its summary), each root's ``last_run``, ``begin``
and root signatures and the run signature, in the same formats as SQLAlchemy writes them (timestamps
``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, JSON text). A ``kill -9`` leaves the ledger as it was or sealed.
Anything else (a change, a new or gone file, an error, another database) returns None before anything
is written, and the full seal runs: at most one walk is spent. A re-seal with a few changes:
:mod:`radguard.archive.delta`, on the same walk (what ``radguard seal`` calls).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from radguard.archive import keys
from radguard.archive.merkle import MerkleBuilder
from radguard.archive.tree import SKIP_PREFIX, normalize
from radguard.models import Finding
from radguard.store import lite


@dataclass
class SealSummary:
    files: int = 0
    hashed: int = 0
    unchanged: int = 0
    errors: int = 0
    dropped: int = 0
    roots: list[dict[str, Any]] = field(default_factory=list)
    run_root: str = ""
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "hashed": self.hashed, "unchanged": self.unchanged, "errors": self.errors,
                "dropped": self.dropped, "roots": self.roots, "run_merkle_root": self.run_root}


def studies_of(summary: Mapping[str, Any] | None, root: str) -> int | None:
    """The number of studies a seal run's ``summary`` recorded for ``root`` (its last record), if any."""
    found = None
    for rec in (summary or {}).get("roots") or ():
        if isinstance(rec, dict) and rec.get("root") == root and isinstance(rec.get("studies"), int):
            found = rec["studies"]
    return found


class Changed(Exception):
    """The walk met something only the full seal handles."""


def _listing(d: str) -> tuple[list[tuple[str, int, int]], list[str]]:
    """The files of directory ``d`` as (path, size, mtime_ns) and its subdirectories, each sorted by path:
    the same entries as :func:`radguard.archive.tree.iter_files` takes; an entry it would report as an
    error raises."""
    files: list[tuple[str, int, int]] = []
    dirs: list[str] = []
    with os.scandir(d) as it:
        for e in it:
            if e.name.startswith(SKIP_PREFIX):
                continue
            if e.is_file(follow_symlinks=False):  # the usual entry first (from the directory's file type)
                st = e.stat(follow_symlinks=False)
                files.append((e.path, st.st_size, st.st_mtime_ns))
            elif e.is_dir(follow_symlinks=False):
                dirs.append(e.path)
            elif e.is_symlink():
                if os.path.isdir(e.path):
                    continue  # directory symlinks are not followed
                st = os.stat(e.path)
                if not stat.S_ISREG(st.st_mode):
                    raise Changed(e.path)  # an error item of the full seal
                files.append((e.path, st.st_size, st.st_mtime_ns))
    files.sort()
    dirs.sort()
    return files, dirs


def walk_segments(top: str) -> Iterator[list[tuple[str, int, int]]]:
    """(path, size, mtime_ns) of the regular files under directory ``top`` in code point order of their
    paths (SQLite's ``BINARY`` order of their UTF-8 text), as runs of files of one directory: a
    subdirectory ``a`` comes where ``a/`` sorts (after a file ``a-b``, before ``a0``). OSError or
    :class:`Changed` on an entry the full seal would report."""
    files, dirs = _listing(top)
    stack = [(files, dirs, 0, 0)]
    while stack:
        files, dirs, fi, di = stack.pop()
        if di < len(dirs):
            cut = bisect_left(files, (dirs[di] + "/",), fi)
            if cut > fi:
                yield files[fi:cut]
            stack.append((files, dirs, cut, di + 1))
            stack.append((*_listing(dirs[di]), 0, 0))
        elif fi < len(files):
            yield files[fi:] if fi else files


def walk_in_path_order(top: str) -> Iterator[tuple[str, int, int]]:
    """The files of :func:`walk_segments` one by one."""
    for segment in walk_segments(top):
        yield from segment


def now() -> str:
    """A timestamp as SQLAlchemy writes ``DateTime(timezone=True)`` on SQLite (UTC, no offset)."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class Root:
    root: str
    path: str
    last_id: int  # the root signature this seal signs again
    root_hash: str
    leaves: int
    studies: int = 0
    files: int = 0


def plan_root(conn: sqlite3.Connection, given: str, pub: str) -> Root:
    """The sealed root of ``given`` and its latest root signature, if the full seal would sign it again."""
    path = normalize(given)
    roots = [r for (r,) in conn.execute("SELECT path FROM archive_roots")]
    holding = [r for r in roots if path == r or path.startswith(r.rstrip("/") + "/")]
    if len(holding) != 1:
        raise Changed(path)
    root = holding[0]
    inner = root.rstrip("/") + "/"
    if not os.path.isdir(path) or any(r.startswith(inner) for r in roots):
        raise Changed(path)  # a sealed file, or a root to subsume
    latest = conn.execute("SELECT id, run_id, scope, root_hash, leaves, public_key, signature FROM archive_signatures "
                          "WHERE scope IN ('root', 'begin') AND key = ? ORDER BY id DESC LIMIT 1", (root,)).fetchone()
    if latest is None or latest[2] != "root" or latest[5] != pub:
        raise Changed(root)
    sid, run_id, _scope, rh, leaves, _pub, sig = latest
    if not keys.verify(pub, keys.signed_message("root", root, rh, leaves), sig):
        raise Changed(root)
    plan = Root(root, path, sid, rh, leaves)
    (summary,) = conn.execute("SELECT summary FROM runs WHERE id = ?", (run_id,)).fetchone() or (None,)
    try:
        studies = studies_of(json.loads(summary) if summary else None, root)
    except ValueError:
        studies = None
    if studies is None:
        (studies,) = conn.execute("SELECT count(DISTINCT study_uid) FROM archive_entries WHERE root = ?",
                                  (root,)).fetchone()
    plan.studies = int(studies or 0)
    return plan


def _unchanged_files(conn: sqlite3.Connection, plan: Root) -> int:
    """The number of files under ``plan.path``, when the walk and the ledger agree on every one of them."""
    lo, hi = plan.path.rstrip("/") + "/", plan.path.rstrip("/") + "0"
    cur = conn.execute("SELECT path, size, mtime_ns FROM archive_entries WHERE path > ? AND path < ? ORDER BY path",
                       (lo, hi))
    n = 0
    for segment in walk_segments(plan.path):  # compared a directory's run of files at a time
        if cur.fetchmany(len(segment)) != segment:
            raise Changed(plan.path)  # changed, new or gone files
        n += len(segment)
    if cur.fetchone() is not None:
        raise Changed(plan.path)  # entries after the last file are gone
    if plan.path == plan.root:
        (count,) = conn.execute("SELECT count(*) FROM archive_entries WHERE root = ?", (plan.root,)).fetchone()
        if count != n:
            raise Changed(plan.root)
    return n


def connect(url: str | None = None) -> sqlite3.Connection | None:
    """The SQLite ledger at ``url`` (default: the store's), opened for a re-seal without SQLAlchemy; None when
    the store is not an SQLite file at the current schema (the full seal migrates or serves it)."""
    return lite.connect(url or lite.default_url(), writer=True)


def reseal_unchanged(paths: list[str], key: object, params: Mapping[str, Any],
                     url: str | None = None) -> tuple[int, SealSummary] | None:
    """Seal ``paths`` as :func:`radguard.archive.seal.seal` would when nothing changed; (run id, summary),
    or None (nothing written) when this store or this tree needs the full seal."""
    if not paths:
        return None
    started = now()
    pub = keys.public_hex(key)
    conn = connect(url)
    if conn is None:
        return None
    try:
        plans = [plan_root(conn, p, pub) for p in paths]
        if len({p.root for p in plans}) != len(plans):
            return None
        for plan in plans:
            plan.files = _unchanged_files(conn, plan)
        return write_unchanged(conn, plans, key, pub, params, started)
    except (Changed, OSError, sqlite3.Error):
        return None
    finally:
        conn.close()


SIGNATURE_SQL = ("INSERT INTO archive_signatures (run_id, scope, key, root_hash, leaves, public_key, signature, "
                 "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def sign_into(conn: sqlite3.Connection, key: object, pub: str, run_id: int, scope: str, name: str, root_hash: str,
              leaves: int) -> None:
    """Sign (``scope``, ``name``, ``root_hash``, ``leaves``) and insert the signature, as the full seal does."""
    sig = keys.sign(key, keys.signed_message(scope, name, root_hash, leaves))
    conn.execute(SIGNATURE_SQL, (run_id, scope, name, root_hash, leaves, pub, sig, now()))


def write_unchanged(conn: sqlite3.Connection, plans: list[Root], key: object, pub: str, params: Mapping[str, Any],
           started: str) -> tuple[int, SealSummary] | None:
    summary = SealSummary()
    run = MerkleBuilder()
    for plan in plans:
        summary.files += plan.files
        summary.unchanged += plan.files
        summary.roots.append({"root": plan.root, "merkle_root": plan.root_hash, "objects": plan.leaves,
                              "studies": plan.studies})
        run.add(bytes.fromhex(plan.root_hash))
    summary.run_root = run.root()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for plan in plans:  # no seal began on the root since it was read
            (latest,) = conn.execute("SELECT max(id) FROM archive_signatures WHERE scope IN ('root', 'begin') "
                                     "AND key = ?", (plan.root,)).fetchone()
            if latest != plan.last_id:
                conn.execute("ROLLBACK")
                return None
        run_id = conn.execute("INSERT INTO runs (kind, started, finished, status, params, summary) "
                              "VALUES ('seal', ?, ?, 'done', ?, ?)",
                              (started, now(), json.dumps(dict(params)), json.dumps(summary.to_dict()))).lastrowid
        assert run_id is not None
        for plan in plans:
            conn.execute("UPDATE archive_roots SET last_run = ? WHERE path = ?", (run_id, plan.root))
            for scope in (keys.BEGIN, "root"):
                sign_into(conn, key, pub, run_id, scope, plan.root, plan.root_hash, plan.leaves)
        sign_into(conn, key, pub, run_id, "run", str(run_id), summary.run_root, run.count)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return run_id, summary
