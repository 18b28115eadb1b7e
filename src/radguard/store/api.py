"""Store API: producers write runs/findings/assets/events, consumers read them.

Examples
--------
>>> store = open_store("sqlite://")          # doctest: +SKIP
>>> with store.run("scan", {"targets": ["127.0.0.1"]}) as run:  # doctest: +SKIP
...     run.add_findings(findings)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from radguard.errors import StoreError
from radguard.models import Asset, Event, Finding, Severity
from radguard.store.lite import MIGRATIONS, RunInfo, default_url, script_heads, utc
from radguard.store.schema import AssetRow, EventRow, FindingRow, Run

_MIGRATIONS = MIGRATIONS
_script_heads = script_heads
__all__ = ["RunHandle", "RunInfo", "Store", "default_url", "open_store"]


def _safe_url(url: str) -> str:
    """The URL without its password, for error messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


class RunHandle:
    """Writes one run's results; commits per call so a crash loses at most one batch."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store = store
        self.id = run_id

    def add_findings(self, findings: Iterable[Finding]) -> None:
        """Insert findings in one bulk statement (Core ``executemany``), committed at once."""
        rows = [
            {
                "run_id": self.id,
                "rule": f.rule,
                "severity": f.severity.value,
                "title": f.title,
                "target": f.target,
                "evidence": dict(f.evidence),
                "remediation": f.remediation,
                "controls": list(f.controls),
            }
            for f in findings
        ]
        if not rows:
            return
        with self.store.session() as s:
            s.execute(insert(FindingRow), rows)
            s.commit()

    def add_assets(self, assets: Iterable[Asset]) -> None:
        rows = [
            AssetRow(
                run_id=self.id,
                kind=a.kind,
                target=a.target,
                product=a.product,
                version=a.version,
                attributes=dict(a.attributes),
            )
            for a in assets
        ]
        self.store._add_all(rows)

    def add_events(self, events: Iterable[Event]) -> None:
        self.store.add_events(events, run_id=self.id)

    def finish(self, summary: Mapping[str, Any] | None = None, status: str = "done") -> None:
        with self.store.session() as s:
            run = s.get(Run, self.id)
            if run is None:  # pragma: no cover - deleted under our feet
                raise StoreError(f"run {self.id} vanished from the store")
            run.finished = datetime.now(UTC)
            run.status = status
            run.summary = dict(summary or {})
            s.commit()


class Store:
    """A migrated database. Create with :func:`open_store`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with self._sessions() as s:
                yield s
        except SQLAlchemyError as exc:
            raise StoreError(f"store error: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc

    def _add_all(self, rows: list[Any]) -> None:
        if not rows:
            return
        with self.session() as s:
            s.add_all(rows)
            s.commit()

    def start_run(self, kind: str, params: Mapping[str, Any] | None = None) -> RunHandle:
        with self.session() as s:
            run = Run(
                kind=kind,
                started=datetime.now(UTC),
                status="running",
                params=dict(params or {}),
                summary={},
            )
            s.add(run)
            s.commit()
            return RunHandle(self, run.id)

    @contextmanager
    def run(self, kind: str, params: Mapping[str, Any] | None = None) -> Iterator[RunHandle]:
        """Context manager: the run is marked ``failed`` if the block raises."""
        handle = self.start_run(kind, params)
        try:
            yield handle
        except BaseException:
            handle.finish(status="failed")
            raise

    def add_events(self, events: Iterable[Event], run_id: int | None = None) -> None:
        rows = [
            EventRow(
                run_id=run_id,
                time=e.time,
                kind=e.kind,
                source=e.source,
                severity=e.severity.value,
                summary=e.summary,
                attributes=dict(e.attributes),
            )
            for e in events
        ]
        self._add_all(rows)

    # ----------------------------------------------------------------- reads
    def runs(self, kind: str | None = None, limit: int = 50) -> list[RunInfo]:
        with self.session() as s:
            q = select(Run).order_by(Run.id.desc()).limit(limit)
            if kind:
                q = q.where(Run.kind == kind)
            return [_run_info(r) for r in s.scalars(q)]

    def get_run(self, run_id: int) -> RunInfo | None:
        with self.session() as s:
            r = s.get(Run, run_id)
            return _run_info(r) if r else None

    def latest_run(self, kind: str, before: int | None = None) -> RunInfo | None:
        with self.session() as s:
            q = select(Run).where(Run.kind == kind).order_by(Run.id.desc()).limit(1)
            if before is not None:
                q = q.where(Run.id < before)
            r = s.scalars(q).first()
            return _run_info(r) if r else None

    def findings(self, run_id: int, min_severity: Severity | None = None) -> list[Finding]:
        with self.session() as s:
            rows = s.scalars(select(FindingRow).where(FindingRow.run_id == run_id).order_by(FindingRow.id))
            out = [
                Finding(
                    rule=r.rule,
                    severity=Severity(r.severity),
                    title=r.title,
                    target=r.target,
                    evidence=dict(r.evidence or {}),
                    remediation=r.remediation,
                    controls=tuple(r.controls or ()),
                )
                for r in rows
            ]
        if min_severity is not None:
            out = [f for f in out if f.severity >= min_severity]
        return out

    def assets(self, run_id: int) -> list[Asset]:
        with self.session() as s:
            rows = s.scalars(select(AssetRow).where(AssetRow.run_id == run_id).order_by(AssetRow.id))
            return [
                Asset(
                    kind=r.kind,
                    target=r.target,
                    product=r.product,
                    version=r.version,
                    attributes=dict(r.attributes or {}),
                )
                for r in rows
            ]

    def events(self, kind: str | None = None, limit: int = 1000) -> list[Event]:
        with self.session() as s:
            q = select(EventRow).order_by(EventRow.time.desc()).limit(limit)
            if kind:
                q = q.where(EventRow.kind == kind)
            return [
                Event(
                    kind=r.kind,
                    source=r.source,
                    summary=r.summary,
                    severity=Severity(r.severity),
                    time=r.time if r.time.tzinfo else r.time.replace(tzinfo=UTC),
                    attributes=dict(r.attributes or {}),
                )
                for r in s.scalars(q)
            ]

    def close(self) -> None:
        self.engine.dispose()


def _run_info(r: Run) -> RunInfo:
    started = utc(r.started)
    assert started is not None
    return RunInfo(
        id=r.id,
        kind=r.kind,
        started=started,
        finished=utc(r.finished),
        status=r.status,
        params=dict(r.params or {}),
        summary=dict(r.summary or {}),
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _current_heads(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return set()
        return {str(r[0]) for r in conn.execute(text("SELECT version_num FROM alembic_version"))}


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise schema upgrades between processes opening the same store for the first time.

    SQLite: ``flock`` on ``<database>.lock`` beside the file. PostgreSQL: a session-level advisory lock.
    Other back ends: no lock.
    """
    url = engine.url
    if engine.dialect.name == "sqlite" and url.database and url.database != ":memory:":
        import fcntl

        lock_path = Path(url.database).expanduser().with_name(Path(url.database).name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
        return
    yield


#: advisory lock key of schema upgrades on PostgreSQL ("radguard" in ASCII, truncated to 63 bits)
_PG_MIGRATION_LOCK = 0x7261646775617264 & 0x7FFFFFFFFFFFFFFF


def _migrate(engine: Engine) -> None:
    if _current_heads(engine) == set(_script_heads()):
        return
    with _migration_lock(engine):
        if _current_heads(engine) == set(_script_heads()):  # another process did it while we waited
            return
        import logging

        from alembic import command
        from alembic.config import Config

        logging.getLogger("alembic").setLevel(logging.WARNING)
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")


def _create_private_sqlite(path: Path) -> None:
    """Create the SQLite file (and a missing parent) readable by its owner only: the store holds findings,
    events and hashed identifiers that other local users have no business reading."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


def open_store(url: str | None = None) -> Store:
    """Open (creating and migrating as needed) the store at ``url`` or :func:`default_url`.

    Raises
    ------
    StoreError
        If the database cannot be reached or migrated.
    """
    url = url or default_url()
    try:
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            _create_private_sqlite(Path(url.removeprefix("sqlite:///")).expanduser())
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        # a ping per checkout finds a dropped server connection; an SQLite file has none to drop
        engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        _migrate(engine)
    except StoreError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise StoreError(f"cannot open store {_safe_url(url)}: {first}") from exc
    except Exception as exc:
        raise StoreError(f"cannot open store {_safe_url(url)}: {exc}") from exc
    return Store(engine)
