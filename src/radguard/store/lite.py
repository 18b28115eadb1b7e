"""What the store is without SQLAlchemy: its URL, its run record and reads of runs and findings on SQLite.

Importing SQLAlchemy and the table mappings costs about 0.25 s, more than a whole ``radguard runs`` is
allowed (issue 15); this module needs only the standard library (and :mod:`radguard.models`).
:func:`read_runs` reads an SQLite store whose schema is current with :mod:`sqlite3` and gives the same
:class:`RunInfo` records as :meth:`radguard.store.api.Store.runs`, :func:`read_run_findings` what
``get_run``/``latest_run`` and ``findings`` give (the columns as SQLAlchemy writes them on SQLite:
timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff`` text in UTC, JSON as text). Anything else (another database,
a missing file, a schema to migrate) is left to :func:`radguard.store.api.open_store`.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

    from radguard.models import Finding

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION_RE = re.compile(r"^(revision|down_revision)\s*=\s*(.+)$", re.MULTILINE)


def default_url() -> str:
    """``RADGUARD_DB`` if set, else an SQLite file in the user data directory."""
    url = os.environ.get("RADGUARD_DB")
    if url:
        return url
    from platformdirs import user_data_dir

    data = Path(user_data_dir("radguard", appauthor=False))
    return f"sqlite:///{data / 'radguard.db'}"


@dataclass(frozen=True, kw_only=True, slots=True)
class RunInfo:
    """One run of a producer as the store keeps it (table ``runs``)."""

    id: int
    kind: str  #: scan, seal, audit, pcap, ...
    started: datetime  #: UTC
    finished: datetime | None  #: None while running (or killed)
    status: str  #: running, done, failed
    params: Mapping[str, Any]  #: what the run was asked to do
    summary: Mapping[str, Any]  #: what it found, in counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "status": self.status,
            "params": dict(self.params),
            "summary": dict(self.summary),
        }


def utc(d: datetime | None) -> datetime | None:
    """``d`` with UTC attached when the database gave it back naive (SQLite keeps no offset)."""
    if d is None:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


@cache
def script_heads() -> frozenset[str]:
    """Heads of the shipped migrations, read from the files' ``revision``/``down_revision`` lines.

    This avoids importing Alembic (~0.1 s) on every command when the schema is already current.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        fields = dict(_REVISION_RE.findall(path.read_text(encoding="utf-8")))
        if "revision" not in fields:
            continue
        revisions.add(str(ast.literal_eval(fields["revision"])))
        down = ast.literal_eval(fields.get("down_revision", "None"))
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, (tuple, list)):
            parents.update(str(d) for d in down)
    return frozenset(revisions - parents)


def sqlite_file(url: str) -> Path | None:
    """The database file of an ``sqlite:///`` URL without query options, else None."""
    if not url.startswith("sqlite:///") or "?" in url or url == "sqlite:///:memory:":
        return None
    return Path(url.removeprefix("sqlite:///")).expanduser()


def _json(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else None
    return dict(value) if isinstance(value, dict) else {}


def _json_list(text: str | None) -> tuple[Any, ...]:
    value = json.loads(text) if text else None
    return tuple(value) if isinstance(value, list) else ()


def _time(text: str | None) -> datetime | None:
    return utc(datetime.fromisoformat(text)) if text else None


def connect(url: str, *, writer: bool = False) -> sqlite3.Connection | None:
    """A connection to an existing SQLite store at the shipped schema, else None. ``writer``: in autocommit
    mode (the caller opens its transactions, ``BEGIN IMMEDIATE``), with the pragmas the store's engine sets
    for writers (busy timeout, ``synchronous=NORMAL``, foreign keys)."""
    import sqlite3

    path = sqlite_file(url)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None if writer else "DEFERRED")
    except sqlite3.Error:
        return None
    try:
        if writer:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        heads = {str(r[0]) for r in conn.execute("SELECT version_num FROM alembic_version")}
    except sqlite3.Error:
        heads = set()
    if heads != set(script_heads()):
        conn.close()
        return None
    return conn


_RUN_COLUMNS = "id, kind, started, finished, status, params, summary"


def _run_infos(rows: list[tuple[Any, ...]]) -> list[RunInfo]:
    """Runs from ``_RUN_COLUMNS`` rows; ValueError when a row is not as SQLAlchemy writes it."""
    out: list[RunInfo] = []
    for rid, rkind, started, finished, status, params, summary in rows:
        start = _time(started)
        if start is None:
            raise ValueError("a run without a start time")
        out.append(RunInfo(id=rid, kind=rkind, started=start, finished=_time(finished), status=status,
                           params=_json(params), summary=_json(summary)))
    return out


def read_runs(url: str, kind: str | None = None, limit: int = 50) -> list[RunInfo] | None:
    """The latest ``limit`` runs (of ``kind``), newest first, read with :mod:`sqlite3`; None when this
    store is not an existing SQLite file at the shipped schema (use :meth:`Store.runs` then)."""
    import sqlite3

    conn = connect(url)
    if conn is None:
        return None
    try:
        where, args = ("WHERE kind = ? ", (kind, limit)) if kind else ("", (limit,))
        rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs {where}ORDER BY id DESC LIMIT ?", args).fetchall()
        return _run_infos(rows)
    except (sqlite3.Error, ValueError):  # not as SQLAlchemy writes it: let the full store read it
        return None
    finally:
        conn.close()


def read_run_findings(url: str, run_id: int | None, kind: str) -> tuple[RunInfo | None, list[Finding]] | None:
    """Run ``run_id`` (else the latest run of ``kind``) and its findings in insertion order, read with
    :mod:`sqlite3` as :meth:`Store.get_run`/:meth:`Store.latest_run` and :meth:`Store.findings` give them;
    ``(None, [])`` when there is no such run; None when this store is not an existing SQLite file at the
    shipped schema (use the store then)."""
    import sqlite3

    from radguard.models import Finding, Severity

    conn = connect(url)
    if conn is None:
        return None
    try:
        if run_id is not None:
            rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchall()
        else:
            rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE kind = ? ORDER BY id DESC LIMIT 1",
                                (kind,)).fetchall()
        infos = _run_infos(rows)
        if not infos:
            return None, []
        found = conn.execute("SELECT rule, severity, title, target, evidence, remediation, controls FROM findings "
                             "WHERE run_id = ? ORDER BY id", (infos[0].id,)).fetchall()
        return infos[0], [Finding(rule=rule, severity=Severity(sev), title=title, target=target,
                                  evidence=_json(evidence), remediation=remediation, controls=_json_list(controls))
                          for rule, sev, title, target, evidence, remediation, controls in found]
    except (sqlite3.Error, ValueError):  # not as SQLAlchemy writes it: let the full store read it
        return None
    finally:
        conn.close()
