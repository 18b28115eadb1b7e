"""What the sans-io association (:mod:`radguard.gateway.association`) asks its driver to do.

The association takes the events of the two upper layers and answers with these commands; the relay
(:mod:`radguard.gateway.relay`) carries them out in order, with sockets, awaits and threads. Bytes that
may wait for the next write are not commands: the association queues them in the end's
:class:`~radguard.gateway.pieces.Outbox`. Commands are made for every C-STORE on the hot path: plain slotted
dataclasses (a frozen one costs four times as much to build), used once by the driver and dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from radguard.gateway.pieces import End, HeldDataSet, Pending


@dataclass(slots=True)
class Send:
    """Write to ``to`` now, after what its outbox holds, and wait until the transport takes it."""

    to: End
    pdus: Sequence[bytes] = ()


@dataclass(slots=True)
class Publish:
    """Tell the event bus (observers: audit records, statistics)."""

    event: object


@dataclass(slots=True)
class Continue:
    """Run ``step`` (more of the association's work) once the commands before it are done, and carry out
    what it returns: work kept off the latency path (the audit record after the client has its answer)."""

    step: Callable[[], Sequence[Command]]


@dataclass(slots=True)
class Close:
    """The association is over (``how``: "released", or why): close both ends, after an A-ABORT to each
    when ``abort`` (PS3.8 §7.3; ``provider``: from the service provider, not the service user)."""

    how: str
    abort: bool = True
    provider: bool = False


@dataclass(slots=True, eq=False)
class HeldStore:
    """A C-STORE request whose data set is held for the ``on_store`` hooks (memory, then the spool directory)."""

    pending: Pending
    spool: HeldDataSet
    transfer_syntax: str
    target: str  # "AE@host:SOPInstanceUID"

    @property
    def context_id(self) -> int:
        return self.pending.context_id


@dataclass(slots=True)
class CheckStore:
    """A held data set is complete: run the ``on_store`` hooks (inline when small, else in the executor),
    then carry out :meth:`Association.store_checked`; the spool is closed after."""

    store: HeldStore


@dataclass(slots=True)
class SendHeld:
    """Stream a held data set upstream: ``head`` (its command's PDUs), then the data PDUs, in batches."""

    store: HeldStore
    head: list[bytes]


@dataclass(slots=True)
class Quarantine:
    """Keep a refused data set in the quarantine folder (in the executor: it writes files)."""

    data: bytes
    sop_instance: str
    meta: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


Command = Send | Publish | Continue | Close | CheckStore | SendHeld | Quarantine
