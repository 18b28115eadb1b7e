"""The gateway's audit records sent to the radguard store (:mod:`radguard.store`, run kind ``gateway``), as events.

Not to be confused with C-STORE, the DICOM service the gateway relays (:mod:`radguard.gateway.association`):
this module only writes records to radguard's own database.

By default only security alerts and records with a failed outcome (``[audit] store = "alerts"``);
``"all"`` stores every record (the routine transfers too, at a CPU cost on busy gateways).

Fed by the audit trail's worker (the JSON form: Patient IDs already keyed hashes, never names),
written in batches by its own thread at most once a second, so neither the relay nor the JSON Lines
file waits for the database. Store errors are logged (observers never break the flow).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from radguard.models import Event, Severity

log = logging.getLogger("radguard.gateway")

SECURITY_ALERT = "110113"
FLUSH_SECONDS = 1.0


def to_event(doc: Mapping[str, Any]) -> Event:
    """A store event for one audit record (JSON form)."""
    failed = doc.get("outcome") not in (None, "0")
    alert = doc.get("event") == SECURITY_ALERT
    severity = Severity.MEDIUM if alert else (Severity.LOW if failed else Severity.INFO)
    summary = str(doc.get("event_name", "audit"))
    if doc.get("description"):
        summary += f": {doc['description']}"
    try:
        when = datetime.fromisoformat(str(doc["time"]))
    except (KeyError, ValueError):
        when = datetime.now().astimezone()
    return Event(kind="audit", source="gateway", summary=summary[:500], severity=severity, time=when,
                 attributes=dict(doc))


class AuditSink:
    """Batches audit records into the radguard store under one ``gateway`` run."""

    def __init__(self, params: Mapping[str, Any], url: str | None = None, *, alerts_only: bool = True) -> None:
        from radguard.store import open_store

        self.store = open_store(url)
        self.run = self.store.start_run("gateway", dict(params))
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="radguard-store", daemon=True)
        self._thread.start()
        self.written = 0
        self.alerts_only = alerts_only

    def __call__(self, doc: dict[str, Any]) -> None:
        """Audit trail listener: queue one record (only alerts and failures with ``alerts_only``)."""
        if self.alerts_only and doc.get("event") != SECURITY_ALERT and doc.get("outcome") in (None, "0"):
            return
        self._queue.put(to_event(doc))

    def _loop(self) -> None:
        stop = False
        while not stop:
            batch: list[Event] = []
            try:
                item = self._queue.get(timeout=FLUSH_SECONDS)
                if item is None:
                    stop = True
                else:
                    batch.append(item)
                while True:
                    item = self._queue.get_nowait()
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
            except queue.Empty:
                pass
            if batch:
                try:
                    self.run.add_events(batch)
                    self.written += len(batch)
                except Exception as exc:
                    log.error("audit: cannot write %d events to the store: %s", len(batch), exc)

    def close(self, summary: Mapping[str, Any]) -> None:
        """Write what is queued and finish the run with ``summary``."""
        self._queue.put(None)
        self._thread.join(30)
        try:
            self.run.finish(dict(summary))
        except Exception as exc:
            log.error("audit: cannot finish the gateway run in the store: %s", exc)
