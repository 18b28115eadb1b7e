"""The ledger's tables (store migration ``0002_archive``) and the bulk insert of entries.

:mod:`radguard.archive.ledger` reads and writes them (see there for what each column means to the ledger).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Boolean, Connection, DateTime, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from radguard.store.schema import Base


class RootRow(Base):
    __tablename__ = "archive_roots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_run: Mapped[int | None] = mapped_column(Integer, nullable=True)


class EntryRow(Base):
    __tablename__ = "archive_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root: Mapped[str] = mapped_column(Text, index=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    dicom: Mapped[bool] = mapped_column(Boolean)
    sop_instance_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    series_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    study_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sop_class_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    transfer_syntax: Mapped[str | None] = mapped_column(String(64), nullable=True)
    file_sha256: Mapped[str] = mapped_column(String(64))
    meta_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    header_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pixel_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pixel_canonical_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    elements: Mapped[str] = mapped_column(Text, default="")  # digest.pack_elements
    layout: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    canary: Mapped[bool] = mapped_column(Boolean, default=False)
    checks: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list of findings without target
    checks_version: Mapped[str | None] = mapped_column(String(16), nullable=True)
    run_id: Mapped[int] = mapped_column(Integer)
    seen_run: Mapped[int] = mapped_column(Integer)
    sealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    leaf: Mapped[str] = mapped_column(String(64))


class SignatureRow(Base):
    __tablename__ = "archive_signatures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(Text)
    root_hash: Mapped[str] = mapped_column(String(64))
    leaves: Mapped[int] = mapped_column(Integer)
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


#: the entries table (Core)
ENTRIES = cast(Table, EntryRow.__table__)
#: index of the entries' (path, size, mtime_ns), migration ``0006_archive_stat``: what a re-seal compares
STAT_INDEX = "ix_archive_entries_path_stat"

_INSERT_COLUMNS = tuple(c.name for c in ENTRIES.columns if c.name != "id")


def insert_entries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Bulk insert of entry rows (a seal writes one per file): on SQLite straight through the driver's
    ``executemany`` with each column's bind processor (booleans, timestamps) applied as SQLAlchemy
    would; elsewhere a Core ``insert``."""
    dialect = conn.dialect
    if dialect.name != "sqlite":
        from sqlalchemy import insert

        conn.execute(insert(ENTRIES), rows)
        return
    from operator import itemgetter

    get = itemgetter(*_INSERT_COLUMNS)
    procs = [(i, proc) for i, name in enumerate(_INSERT_COLUMNS)
             if (proc := ENTRIES.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
    done: dict[tuple[int, int], Any] = {}  # (column, id(value)) -> processed: one timestamp per batch
    params = []
    for r in rows:
        values = list(get(r))
        for i, proc in procs:
            v = values[i]
            if v is not None:
                key = (i, id(v))
                if key not in done:
                    done[key] = proc(v)
                values[i] = done[key]
        params.append(tuple(values))
    sql = (f"INSERT INTO {ENTRIES.name} ({', '.join(_INSERT_COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in _INSERT_COLUMNS)})")
    conn.exec_driver_sql(sql, params)
