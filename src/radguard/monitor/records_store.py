"""Monitor records in the store (table ``monitor_records``, migration ``0003_monitor``): the searchable
timeline behind a pcap/monitor run. Indexed columns for the usual filters; the whole record as JSON."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from radguard.store.schema import Base

if TYPE_CHECKING:
    from radguard.store import Store

#: rows per INSERT batch
BATCH = 2000


class MonitorRecordRow(Base):
    __tablename__ = "monitor_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    uid: Mapped[str] = mapped_column(String(32))
    client: Mapped[str] = mapped_column(String(64))
    client_port: Mapped[int] = mapped_column(Integer)
    server: Mapped[str] = mapped_column(String(64))
    server_port: Mapped[int] = mapped_column(Integer)
    calling_ae: Mapped[str | None] = mapped_column(String(64), nullable=True)
    called_ae: Mapped[str | None] = mapped_column(String(64), nullable=True)
    command: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


def _row(run_id: int, r: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": run_id, "kind": str(r["kind"])[:16],
            "ts": datetime.fromisoformat(str(r["ts"]).replace("Z", "+00:00")), "uid": str(r.get("uid", ""))[:32],
            "client": str(r.get("client", ""))[:64], "client_port": int(r.get("client_port") or 0),
            "server": str(r.get("server", ""))[:64], "server_port": int(r.get("server_port") or 0),
            "calling_ae": r.get("calling_ae"), "called_ae": r.get("called_ae"), "command": r.get("command"),
            "status": r.get("status") if isinstance(r.get("status"), int) else None, "data": r}


class RecordWriter:
    """Insert a run's records as they come, :data:`BATCH` rows per statement and transaction: a capture
    of any size is written in bounded memory, and a crash loses at most one batch."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store = store
        self.run_id = run_id
        self.count = 0
        self._batch: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> None:
        self._batch.append(_row(self.run_id, record))
        if len(self._batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._batch:
            return
        with self.store.session() as s:
            s.execute(insert(MonitorRecordRow), self._batch)
            s.commit()
        self.count += len(self._batch)
        self._batch = []

    def close(self) -> int:
        """Write what is held; returns how many records were written in all."""
        self.flush()
        return self.count


def save_records(store: Store, run_id: int, records: Iterable[dict[str, Any]]) -> int:
    """Insert records of a run in batches; returns how many."""
    writer = RecordWriter(store, run_id)
    for record in records:
        writer.add(record)
    return writer.close()


def load_records(store: Store, run_id: int, kind: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Records of a run in time order (optionally one kind)."""
    query = select(MonitorRecordRow.data).where(MonitorRecordRow.run_id == run_id)
    if kind is not None:
        query = query.where(MonitorRecordRow.kind == kind)
    query = query.order_by(MonitorRecordRow.ts, MonitorRecordRow.id)
    if limit is not None:
        query = query.limit(limit)
    with store.session() as s:
        return [dict(d) for d in s.scalars(query)]
