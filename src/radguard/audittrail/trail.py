"""The audit trail: an observer that never blocks or breaks the clinical flow (45 CFR 164.312(b)).

:meth:`AuditTrail.emit` only appends the record to a deque (no lock hand-off, so the event loop
keeps the GIL). One worker thread, polling every :data:`POLL_SECONDS`, writes each record to the
JSON Lines file and sends it to the syslog collector; the file is flushed after each batch (at most
:data:`MAX_BATCH` records), so a record reaches the file within about 50 ms, well within a second.
When the collector cannot take a message, the message goes to a disk spool (one file per
message, in order) and every later message follows it there until the collector is back; the
worker retries every ``retry_interval`` seconds and drains the spool oldest first, so nothing is
lost across collector outages or gateway restarts (the spool is read again at start).
Errors are logged, never raised to the caller.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from radguard.audittrail.messages import AuditRecord, to_json, to_xml
from radguard.audittrail.syslog import Sender, format_message

log = logging.getLogger("radguard.audittrail")

#: how often the worker looks for new records when idle (a record is on disk within about this)
POLL_SECONDS = 0.05
#: records handled between two flushes of the JSON Lines file
MAX_BATCH = 256


@dataclass
class TrailStats:
    """Counters, readable at any time (tests, benchmark, ``--json`` summary)."""

    emitted: int = 0
    written: int = 0
    sent: int = 0
    spooled: int = 0
    errors: int = 0
    by_event: dict[str, int] = field(default_factory=dict)


class AuditTrail:
    """Fan-out of audit records to a JSON Lines file and a syslog collector, with a disk spool.

    Parameters
    ----------
    jsonl : Path, optional
        JSON Lines file (appended; Patient IDs as keyed hashes).
    sender : Sender, optional
        Syslog transport (see :func:`radguard.audittrail.syslog.make_sender`).
    spool_dir : Path, optional
        Where undeliverable syslog messages wait (required with ``sender``).
    include_patient_id : bool
        Real Patient ID in the syslog/ATNA message (PS3.15 A.5, ``[audit] include_patient_id``).
    secret : bytes, optional
        Site secret of the Patient ID keyed hash.
    hostname : str, optional
        RFC 5424 HOSTNAME (default: this host's name).
    retry_interval : float
        Seconds between delivery attempts while the collector is down.
    listeners : list of callables, optional
        Called with each record's JSON form (e.g. to store events); errors are logged.
    """

    def __init__(
        self, *, jsonl: Path | None = None, sender: Sender | None = None, spool_dir: Path | None = None,
        include_patient_id: bool = False, secret: bytes | None = None, hostname: str | None = None,
        retry_interval: float = 1.0, listeners: list[Callable[[dict[str, Any]], None]] | None = None,
    ) -> None:
        self.stats = TrailStats()
        self._sender = sender
        self._spool = spool_dir
        self._include_pid = include_patient_id
        self._secret = secret
        self._hostname = hostname or socket.gethostname()
        self._retry = retry_interval
        self._listeners = list(listeners or [])
        # a deque, not a queue.Queue: emit() must not wake the worker (a lock hand-off per record costs
        # the event loop the GIL); the worker polls every POLL_SECONDS instead
        self._pending: collections.deque[AuditRecord] = collections.deque()
        self._in_flight = 0
        self._stopping = False
        self._wake = threading.Event()
        self._jsonl: IO[str] | None = None
        if jsonl is not None:
            jsonl.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(jsonl, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._jsonl = os.fdopen(fd, "a", encoding="utf-8")
        if sender is not None:
            if spool_dir is None:
                raise ValueError("a syslog sender needs a spool directory")
            spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._seq = self._last_spool_seq()
        self._thread = threading.Thread(target=self._run, name="radguard-audit", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ public

    def emit(self, record: AuditRecord) -> None:
        """Queue ``record``; never raises, never blocks."""
        try:
            self.stats.emitted += 1
            code = record.event.value
            self.stats.by_event[code] = self.stats.by_event.get(code, 0) + 1
            self._pending.append(record)
        except Exception:  # observers never break the flow
            log.exception("audit: could not queue a record")

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record is written and sent or spooled; True if done in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._pending and self._in_flight == 0:
                return True
            time.sleep(0.01)
        return False

    def pending_spool(self) -> int:
        """Number of messages waiting in the spool."""
        return len(self._spool_files())

    def close(self, timeout: float = 10.0) -> None:
        """Flush, try once more to drain the spool, stop the worker, close the file."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
        if self._sender is not None:
            self._sender.close()

    # ------------------------------------------------------------ worker

    def _run(self) -> None:
        next_retry = 0.0
        while True:
            batch: list[AuditRecord] = []
            self._in_flight = 1  # set before popping, so flush() never sees an empty deque and no work
            while self._pending and len(batch) < MAX_BATCH:
                batch.append(self._pending.popleft())
            self._in_flight = len(batch)
            for item in batch:
                try:
                    self._handle(item)
                except Exception:
                    self.stats.errors += 1
                    log.exception("audit: record handling failed")
            if batch:
                self._flush_file()
            self._in_flight = 0
            if self._stopping and not self._pending:
                self._drain_spool()
                return
            now = time.monotonic()
            if self._spool_files_cached and now >= next_retry:
                self._drain_spool()
                next_retry = now + self._retry
            if not self._pending:
                self._wake.wait(POLL_SECONDS)

    def _flush_file(self) -> None:
        if self._jsonl is None:
            return
        try:
            self._jsonl.flush()
        except OSError as exc:
            self.stats.errors += 1
            log.error("audit: cannot write the JSON Lines file: %s", exc)

    _spool_files_cached: bool = False

    def _handle(self, record: AuditRecord) -> None:
        doc = to_json(record, secret=self._secret)
        if self._jsonl is not None:
            try:
                self._jsonl.write(json.dumps(doc, sort_keys=False) + "\n")
                self.stats.written += 1
            except OSError as exc:
                self.stats.errors += 1
                log.error("audit: cannot write the JSON Lines file: %s", exc)
        for listener in self._listeners:
            try:
                listener(doc)
            except Exception:
                self.stats.errors += 1
                log.exception("audit: listener failed")
        if self._sender is None:
            return
        xml = to_xml(record, include_patient_id=self._include_pid, secret=self._secret)
        message = format_message(xml, hostname=self._hostname, time=record.time)
        if self._spool_files_cached:
            self._drain_spool()
        if self._spool_files_cached:
            self._to_spool(message)
            return
        try:
            self._sender.send(message)
            self.stats.sent += 1
        except OSError as exc:
            log.warning("audit: syslog collector unavailable (%s); spooling", exc)
            self._to_spool(message)

    # ------------------------------------------------------------ spool

    def _spool_files(self) -> list[Path]:
        if self._spool is None or not self._spool.exists():
            return []
        return sorted(self._spool.glob("*.msg"))

    def _last_spool_seq(self) -> int:
        files = self._spool_files()
        self._spool_files_cached = bool(files)
        return int(files[-1].stem) if files else 0

    def _to_spool(self, message: bytes) -> None:
        assert self._spool is not None
        self._seq += 1
        tmp = self._spool / f"{self._seq:012d}.tmp"
        # owner only: with include_patient_id the ATNA message carries the real Patient ID
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            fh.write(message)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.rename(self._spool / f"{self._seq:012d}.msg")
        self.stats.spooled += 1
        self._spool_files_cached = True

    def _drain_spool(self) -> None:
        if self._sender is None:
            return
        for path in self._spool_files():
            try:
                self._sender.send(path.read_bytes())
            except OSError:
                self._spool_files_cached = True
                return
            path.unlink()
            self.stats.sent += 1
        self._spool_files_cached = False
