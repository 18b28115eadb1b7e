"""The ledger: sealed objects, sealed roots and signed Merkle roots (store migration ``0002_archive``).

Each entry's ``leaf`` is the SHA-256 of :func:`leaf_bytes` (a canonical JSON of the fields that
matter); per sealed root and per study, a Merkle root (RFC 6962, leaves in entry id order) is
signed with Ed25519, message ``scope \\n key \\n root \\n count`` (docs/archive.md "Ledger format").
A seal opens each root with a signed ``begin`` record (:meth:`Ledger.ensure_root`): until the root's
signature follows it, the ledger of that root is a seal in progress or interrupted, not a tampered one
(:meth:`Ledger.unfinished_seal`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from radguard.archive.keys import BEGIN as BEGIN
from radguard.archive.keys import signed_message as signed_message
from radguard.archive.leaf import LEAF_FIELDS as LEAF_FIELDS
from radguard.archive.leaf import expand as expand
from radguard.archive.leaf import leaf_bytes as leaf_bytes
from radguard.archive.leaf import leaf_of as leaf_of
from radguard.archive.merkle import EMPTY_ROOT, MerkleBuilder
from radguard.archive.quick import studies_of
from radguard.archive.tables import ENTRIES as _T
from radguard.archive.tables import STAT_INDEX, insert_entries
from radguard.archive.tables import EntryRow as EntryRow
from radguard.archive.tables import RootRow as RootRow
from radguard.archive.tables import SignatureRow as SignatureRow
from radguard.archive.tree import PathSet
from radguard.store.api import Store
from radguard.store.schema import Run

#: fields of a full entry (verification of a changed object, :meth:`Ledger.lookup`)
VERIFY_FIELDS = (*LEAF_FIELDS, "id", "elements", "layout")
#: what an audit worker gets of each entry with its work item, in ledger form (elements packed, layout
#: and checks JSON text): enough to trust the cached checks when the SHA-256 is equal and, when it is
#: not, to compare in place (:func:`expand`) without going back to the store or reading the file again
AUDIT_FIELDS = ("path", "size", "dicom", "transfer_syntax", "file_sha256", "meta_sha256", "header_sha256",
                "pixel_sha256", "pixel_canonical_sha256", "canary", "elements", "layout", "checks", "checks_version")


#: SQLite's default automatic checkpoint interval (pages), restored after :meth:`Ledger.bulk`
WAL_AUTOCHECKPOINT = 1000


def row_fields(row: EntryRow) -> dict[str, Any]:
    return expand({k: getattr(row, k) for k in VERIFY_FIELDS})


def _uid(value: str | None) -> str | None:
    return value[:64] if value else None


def under(path: str) -> str:
    """SQL LIKE pattern of the paths strictly under directory ``path`` (``\\`` escapes)."""
    esc = path.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return esc + "/%"


def within(column: Any, path: str) -> Any:
    """Condition: ``column`` is a path strictly under directory ``path``. SQLite's ``LIKE`` ignores the case
    of ASCII letters (``/a/sub/%`` matches ``/a/SUB/x``), so the prefix is also compared exactly."""
    prefix = path.rstrip("/") + "/"
    return column.like(under(path), escape="\\") & (func.substr(column, 1, len(prefix)) == prefix)


class Ledger:
    """Reads and writes of the ledger tables through one :class:`radguard.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------ roots
    def sealed_root_for(self, path: str) -> str | None:
        """The sealed root that is ``path`` or contains it, if any."""
        with self.store.session() as s:
            for root in s.scalars(select(RootRow.path)):
                if path == root or path.startswith(root.rstrip("/") + "/"):
                    return root
        return None

    def roots_within(self, path: str) -> list[str]:
        """Sealed roots equal to, above or below ``path``."""
        with self.store.session() as s:
            roots = list(s.scalars(select(RootRow.path).order_by(RootRow.path)))
        p = path.rstrip("/") + "/"
        return [r for r in roots if (r.rstrip("/") + "/").startswith(p) or p.startswith(r.rstrip("/") + "/")]

    def ensure_root(self, path: str, run_id: int, key: object | None = None) -> bool:
        """Record ``path`` as a sealed root; sealed roots inside it are subsumed (their entries move to it).

        With the signing ``key``, a signed :data:`BEGIN` record of run ``run_id`` is written in the same
        transaction: the seal has started on this root (see :meth:`unfinished_seal`).

        Returns True when the root's entries are as its latest root signature left them, as far as the
        ledger knows: that signature is the root's latest record (the seal before finished) and no root
        was subsumed. A seal that then changes no entry may sign that Merkle root again
        (:meth:`sign_root` ``unchanged``) instead of reading every leaf.
        """
        with self.store.session() as s:
            row = s.scalars(select(RootRow).where(RootRow.path == path)).first()
            if row is None:
                s.add(RootRow(path=path, created=datetime.now(UTC), last_run=run_id))
            else:
                row.last_run = run_id
            nested = s.execute(delete(RootRow).where(within(RootRow.path, path)))
            subsumed = int(getattr(nested, "rowcount", 0) or 0) > 0
            if subsumed or row is None:  # only entries of a subsumed root can be under a new root
                s.connection().execute(update(_T).where(within(_T.c.path, path),
                                                        _T.c.root != path).values(root=path))
            latest = s.scalars(select(SignatureRow.scope).where(SignatureRow.scope.in_(("root", BEGIN)),
                                                                SignatureRow.key == path)
                               .order_by(SignatureRow.id.desc()).limit(1)).first()
            if key is not None:
                from radguard.archive import keys

                q = (select(SignatureRow).where(SignatureRow.scope == "root", SignatureRow.key == path)
                     .order_by(SignatureRow.id.desc()).limit(1))
                last = s.scalars(q).first()
                rh, count = (last.root_hash, last.leaves) if last is not None else (EMPTY_ROOT, 0)
                s.add(SignatureRow(run_id=run_id, scope=BEGIN, key=path, root_hash=rh, leaves=count,
                                   public_key=keys.public_hex(key),
                                   signature=keys.sign(key, signed_message(BEGIN, path, rh, count)),
                                   created=datetime.now(UTC)))
            s.commit()
        return latest == "root" and not subsumed

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """The bulk phase of a seal: on SQLite (WAL, ``synchronous=NORMAL``) no automatic checkpoint
        while it lasts, one at its end.

        Each automatic checkpoint (every 1000 pages by default) copies the pages just written from the
        write-ahead log into the database and syncs it, in the middle of the seal's critical path; a
        batch commit alone only appends to the log. Crash consistency is the log's: a ``kill -9`` leaves
        committed transactions in the log, replayed by the next connection. Other back ends: nothing.
        """
        if self.store.engine.dialect.name != "sqlite":
            yield
            return
        self._pragma("PRAGMA wal_autocheckpoint=0")
        try:
            yield
        finally:
            self._pragma(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            self._pragma("PRAGMA wal_checkpoint(PASSIVE)")

    def _pragma(self, sql: str) -> None:
        with self.store.session() as s:  # the pooled connection the seal's sessions use
            s.connection().exec_driver_sql(sql).close()

    # ---------------------------------------------------------------- entries
    def lookup(self, paths: list[str]) -> dict[str, dict[str, Any]]:
        """Full entries (for verification of changed objects)."""
        if not paths:
            return {}
        with self.store.session() as s:
            rows = s.scalars(select(EntryRow).where(EntryRow.path.in_(paths)))
            return {r.path: row_fields(r) for r in rows}

    def audit_lookup(self, paths: list[str]) -> dict[str, dict[str, Any]]:
        """The :data:`AUDIT_FIELDS` of the entries of ``paths``, in ledger form (one query, no ORM objects)."""
        return {r[0]: dict(zip(AUDIT_FIELDS, r, strict=True)) for r in self._columns(AUDIT_FIELDS, paths)}

    def stat_lookup(self, paths: list[str]) -> dict[str, tuple[int, int]]:
        """(size, mtime_ns) of the entries of ``paths``."""
        return {p: (size, mt) for p, size, mt in self._columns(("path", "size", "mtime_ns"), paths, STAT_INDEX)}

    def _columns(self, names: tuple[str, ...], paths: list[str], index: str = "") -> list[tuple[Any, ...]]:
        """Columns ``names`` of the entries of ``paths``; on SQLite one plain driver query (no statement
        compilation per batch: the ``IN`` list is rendered anew for each one otherwise), through ``index``
        if given (SQLite takes the unique path index otherwise, and reads every row). Booleans come
        back as stored (0/1 on SQLite)."""
        if not paths:
            return []
        with self.store.session() as s:
            conn = s.connection()
            if conn.dialect.name == "sqlite":  # the driver's own cursor: rows come back as tuples
                sql = (f"SELECT {', '.join(names)} FROM {_T.name}{f' INDEXED BY {index}' if index else ''} "
                       f"WHERE path IN ({', '.join('?' * len(paths))})")
                driver = conn.connection.driver_connection
                assert driver is not None  # a checked-out connection
                return list(driver.execute(sql, paths).fetchall())
            return [tuple(r) for r in conn.execute(select(*(_T.c[k] for k in names)).where(
                _T.c.path.in_(paths))).all()]

    def write_batch(self, root: str, run_id: int, sealed: Iterable[tuple[dict[str, Any], bool]],
                    checks_version: str = "", existing: set[str] | None = None) -> int:
        """Replace the entries of sealed objects in one transaction (no torn ledger); entries of unchanged
        objects are not touched (a re-seal writes nothing for them, :meth:`drop_unseen`).

        ``sealed``: (row, canary) where row holds the fingerprint fields as :func:`radguard.archive.work.seal_batch`
        returns them (elements packed, layout and checks as JSON text); rows are completed in place.
        ``existing``: the paths among them that may already have an entry (None: any may); only those
        are looked up and replaced.
        """
        items = list(sealed)
        now = datetime.now(UTC)
        paths = [row["path"] for row, _c in items]
        if existing is not None:
            paths = [p for p in paths if p in existing]
        with self.store.session() as s:
            conn = s.connection()
            was_canary: set[str] = set()
            if paths:
                was_canary = {p for (p,) in conn.execute(select(_T.c.path).where(_T.c.path.in_(paths), _T.c.canary))}
                conn.execute(delete(_T).where(_T.c.path.in_(paths)))
            rows = []
            common = {"checks_version": checks_version, "root": root, "run_id": run_id, "seen_run": run_id,
                      "sealed_at": now}
            for row, canary in items:
                if not canary and row.get("leaf") and row["path"] not in was_canary:
                    # as the worker made it: UIDs cut to 64, leaf computed for canary=False; extra keys
                    # are not inserted (the row is this call's to complete, not copied)
                    row.update(common, canary=False)
                    rows.append(row)
                    continue
                fields = {k: row[k] for k in LEAF_FIELDS if k != "canary"}
                for k in ("sop_instance_uid", "series_uid", "study_uid", "sop_class_uid", "transfer_syntax"):
                    fields[k] = _uid(fields[k])
                fields["canary"] = canary or row["path"] in was_canary
                fields["leaf"] = row["leaf"] if not fields["canary"] and row.get("leaf") else leaf_of(fields)
                fields.update(common, elements=row["elements"], layout=row["layout"], checks=row["checks"])
                rows.append(fields)
            if rows:
                insert_entries(conn, rows)
            s.commit()
        return len(items)

    def iter_leaves(self, path: str, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """The leaf fields (plus id, root, leaf) of entries under ``path``, streamed, no ORM objects."""
        cols = [_T.c[k] for k in (*LEAF_FIELDS, "id", "root", "leaf")]
        names = [c.name for c in cols]
        cond = within(_T.c.path, path) | (_T.c.path == path)
        last = 0
        while True:
            with self.store.session() as s:
                chunk = [dict(zip(names, r, strict=True)) for r in
                         s.execute(select(*cols).where(cond, _T.c.id > last).order_by(_T.c.id).limit(batch)).all()]
            if not chunk:
                return
            yield from chunk
            last = chunk[-1]["id"]

    def _under(self, path: str, root: str) -> Any:
        """Condition on entries: at or under ``path`` (by the indexed ``root`` column when it is the root)."""
        if path == root:
            return _T.c.root == root
        return within(_T.c.path, path) | (_T.c.path == path)

    def drop_unseen(self, path: str, root: str, seen: PathSet) -> int:
        """Forget entries at or under ``path`` (in sealed root ``root``) that this completed walk did not
        see: ``seen`` holds the paths of every entry the walk found or wrote.

        The entries are only counted when their number is that of ``seen`` (nothing is gone, the usual
        case); otherwise their paths are streamed and the unseen ones deleted by id.
        """
        cond = self._under(path, root)
        with self.store.session() as s:
            conn = s.connection()
            (count,) = conn.execute(select(func.count()).select_from(_T).where(cond)).one()
            if count == len(seen):
                return 0
            gone = [i for i, p in conn.execute(select(_T.c.id, _T.c.path).where(cond)) if p not in seen]
            for k in range(0, len(gone), 5000):
                conn.execute(delete(_T).where(_T.c.id.in_(gone[k:k + 5000])))
            s.commit()
            return len(gone)

    # ------------------------------------------------------------ signatures
    def _root_leaves(self, root: str) -> Iterator[tuple[str | None, str]]:
        last = 0
        while True:
            with self.store.session() as s:
                q = (select(_T.c.id, _T.c.study_uid, _T.c.leaf).where(_T.c.root == root, _T.c.id > last)
                     .order_by(_T.c.id).limit(5000))
                chunk = [tuple(r) for r in s.connection().execute(q).all()]
            if not chunk:
                return
            for _id, study, leaf in chunk:
                yield study, leaf
            last = chunk[-1][0]

    def merkle_root(self, root: str) -> tuple[str, int]:
        """Recompute (root hash, count) of the entries sealed under ``root``, from their leaves."""
        m = MerkleBuilder()
        for _study, leaf in self._root_leaves(root):
            m.add(bytes.fromhex(leaf))
        return m.root(), m.count

    def sign_root(self, root: str, run_id: int, key: object, *, unchanged: bool = False) -> dict[str, Any]:
        """Sign the Merkle root of ``root`` and of each study in it; returns the root record.

        ``unchanged``: this seal changed no entry of ``root`` and :meth:`ensure_root` found it settled; the
        root's latest signature, if this ``key`` made it and it verifies, is signed again for this run
        (its study signatures stand) without reading the leaves. Otherwise every leaf is read.
        """
        from radguard.archive import keys

        pub = keys.public_hex(key)
        if unchanged and (rec := self._sign_again(root, run_id, key, pub)) is not None:
            return rec
        whole = MerkleBuilder()
        studies: dict[str, MerkleBuilder] = {}
        for study, leaf in self._root_leaves(root):
            raw = bytes.fromhex(leaf)
            whole.add(raw)
            if study:
                studies.setdefault(study, MerkleBuilder()).add(raw)
        now = datetime.now(UTC)
        records = [("root", root, whole)] + [("study", uid, b) for uid, b in sorted(studies.items())]
        with self.store.session() as s:
            for scope, key_name, builder in records:
                rh = builder.root()
                sig = keys.sign(key, signed_message(scope, key_name, rh, builder.count))
                s.add(SignatureRow(run_id=run_id, scope=scope, key=key_name, root_hash=rh, leaves=builder.count,
                                   public_key=pub, signature=sig, created=now))
            s.commit()
        return {"root": root, "merkle_root": whole.root(), "objects": whole.count, "studies": len(studies)}

    def _sign_again(self, root: str, run_id: int, key: object, pub: str) -> dict[str, Any] | None:
        from radguard.archive import keys

        last = self.latest_signature("root", root)
        if last is None or last.public_key != pub or not keys.verify(
                pub, signed_message("root", root, last.root_hash, last.leaves), last.signature):
            return None
        with self.store.session() as s:
            # the count of studies the signing run recorded (one row), else counted from the entries
            previous = s.get(Run, last.run_id)
            studies = studies_of(previous.summary if previous is not None else None, root)
            if studies is None:
                studies = s.execute(select(func.count(func.distinct(_T.c.study_uid))).where(_T.c.root == root)
                                    ).scalar()
            s.add(SignatureRow(run_id=run_id, scope="root", key=root, root_hash=last.root_hash, leaves=last.leaves,
                               public_key=pub, signature=keys.sign(key, signed_message(
                                   "root", root, last.root_hash, last.leaves)), created=datetime.now(UTC)))
            s.commit()
        return {"root": root, "merkle_root": last.root_hash, "objects": last.leaves, "studies": int(studies or 0)}

    def sign_run(self, run_id: int, root_hashes: list[str], key: object) -> str:
        from radguard.archive import keys

        m = MerkleBuilder()
        for h in root_hashes:
            m.add(bytes.fromhex(h))
        rh = m.root()
        with self.store.session() as s:
            s.add(SignatureRow(run_id=run_id, scope="run", key=str(run_id), root_hash=rh, leaves=m.count,
                               public_key=keys.public_hex(key),
                               signature=keys.sign(key, signed_message("run", str(run_id), rh, m.count)),
                               created=datetime.now(UTC)))
            s.commit()
        return rh

    def unfinished_seal(self, root: str, trusted: str | None = None) -> int | None:
        """The id of the seal run that started on ``root`` and has not signed it (in progress, killed or
        failed), else None.

        That is the case when the latest record of the root is a :data:`BEGIN` record with a valid
        signature (by ``trusted`` if given) and its run is not ``done``: a seal that finished signs the
        root before the run is marked done, so a done run whose root signature is absent had it removed
        (a finding, :func:`radguard.archive.audit.check_root`), not an unfinished seal.
        """
        from radguard.archive import keys

        with self.store.session() as s:
            q = (select(SignatureRow).where(SignatureRow.scope.in_(("root", BEGIN)), SignatureRow.key == root)
                 .order_by(SignatureRow.id.desc()).limit(1))
            rec = s.scalars(q).first()
            if rec is None or rec.scope != BEGIN:
                return None
            run_id, pub, msg = rec.run_id, rec.public_key, signed_message(BEGIN, root, rec.root_hash, rec.leaves)
            sig = rec.signature
        if (trusted and pub != trusted) or not keys.verify(pub, msg, sig):
            return None
        run = self.store.get_run(run_id)
        if run is not None and run.status == "done":
            return None
        return run_id

    def latest_signature(self, scope: str, key: str) -> SignatureRow | None:
        with self.store.session() as s:
            q = (select(SignatureRow).where(SignatureRow.scope == scope, SignatureRow.key == key)
                 .order_by(SignatureRow.id.desc()).limit(1))
            return s.scalars(q).first()
