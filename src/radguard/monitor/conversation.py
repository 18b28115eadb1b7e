"""One DICOM conversation seen on the wire: the shared upper layer in OBSERVER role turned
into records (one per association, one per DIMSE operation with request and response merged).

Records are plain dicts (JSON-ready); they carry AE titles, UIDs of SOP classes, counts,
statuses and attribute keywords, never PHI values (SOP instance UIDs are keyed hashes).
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from radguard.dicom import events as ev
from radguard.dicom import uids
from radguard.dicom.dimse import Command
from radguard.dicom.enums import (
    CommandField,
    PDUType,
    StatusCategory,
    UserIdentityType,
    reject_reason_name,
    status_category,
)
from radguard.dicom.framing import PDUFramer, plausible_pdu_start
from radguard.dicom.pdu import Abort, decode_pdu
from radguard.dicom.ul import Role, UpperLayer
from radguard.errors import ProtocolError
from radguard.monitor.phiscan import HEAD_BYTES, DatasetFacts, examine
from radguard.phi import phi_hash

Record = dict[str, Any]
#: inspects one whole C-STORE data set (bytes, transfer syntax UID) -> [{"rule", "severity", "title"}]
Inspector = Callable[[bytes, str | None], list[dict[str, Any]]]
#: C-STORE data sets larger than this are not held for inspection
INSPECT_MAX = 64 * 1024 * 1024
#: bytes scanned for a PDU boundary before giving up on a direction (mid-stream pick-up, after a gap)
RESYNC_WINDOW = 1024 * 1024
#: PDU length guard while only watching for the A-ABORT that follows a violation
AFTER_VIOLATION_GUARD = 1 << 20
#: outstanding operations kept per association (a flood of requests without answers is bounded)
MAX_OUTSTANDING = 4096
_PDU_HEADER = re.compile(rb"[\x04-\x07]\x00", re.DOTALL)
_QUERY_SERVICES = frozenset({CommandField.C_FIND_RQ, CommandField.C_MOVE_RQ, CommandField.C_GET_RQ})
# the status categories as the records hold them (an enum member's .value is a descriptor call, per message)
_PENDING = StatusCategory.PENDING.value
_STORED = (StatusCategory.SUCCESS.value, StatusCategory.WARNING.value)


#: the last second ISO 8601 can write with a four-digit year (9999-12-31T23:59:59Z)
_LAST_TS = 253402300799.0


def iso(ts: float) -> str:
    """Capture timestamp as ISO 8601 UTC with microseconds.

    A record header of a damaged or forged capture can hold any time: it is clamped to 1970-01-01 ..
    9999-12-31 (what ISO 8601 and the records' readers represent) instead of raising.
    """
    if not 0.0 <= ts <= _LAST_TS:  # NaN included
        ts = _LAST_TS if ts > _LAST_TS else 0.0
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Endpoints:
    """Who talks to whom (client = the side that opened the TCP connection, or the best guess)."""

    uid: str
    client: str
    client_port: int
    server: str
    server_port: int

    def fields(self) -> Record:
        return {"uid": self.uid, "client": self.client, "client_port": self.client_port, "server": self.server,
                "server_port": self.server_port}


@dataclass
class _Op:
    record: Record
    issuer_is_requestor: bool
    phi: Counter[str] = field(default_factory=Counter)
    uids: set[str] = field(default_factory=set)


#: distinct instance UIDs one operation's record keeps (as keyed hashes, for the honeytoken detection)
MAX_OP_UIDS = 1000


@dataclass
class _Dataset:
    """The data set currently arriving in one direction."""

    op: _Op | None
    is_request: bool
    implicit: bool | None
    head: bytearray = field(default_factory=bytearray)
    size: int = 0
    #: the data set's fragments, joined once when it ends (a growing bytearray re-copies megabytes)
    full: list[bytes] | None = None
    transfer_syntax: str | None = None


class DicomConversation:
    """Feed reassembled bytes of both directions; records come out through ``emit``."""

    def __init__(self, ends: Endpoints, emit: Callable[[Record], None], *, mid_stream: bool, ts: float,
                 inspect: Inspector | None = None) -> None:
        self.ends = ends
        self._ends_fields = ends.fields()  # the same five fields in every record of the conversation
        self.emit = emit
        self.inspect = inspect
        self.ul = UpperLayer(Role.OBSERVER, mid_stream=mid_stream, enforce_max_pdu=True)
        self.now = ts
        self._resync: dict[bool, bytearray | None] = {True: bytearray() if mid_stream else None,
                                                      False: bytearray() if mid_stream else None}
        self._scan_from = {True: 0, False: 0}
        self._ops: dict[tuple[bool, int], _Op] = {}
        self._current: dict[bool, _Dataset | None] = {True: None, False: None}
        self.assoc: Record = {
            "kind": "association", "ts": iso(ts), "ts_end": iso(ts), **ends.fields(),
            "calling_ae": None, "called_ae": None, "result": "unknown" if mid_stream else "incomplete",
            "reject": None, "contexts": [], "implementation_class_uid": None, "implementation_version": None,
            "max_pdu_requestor": None, "max_pdu_acceptor": None, "user_identity": None, "end": "open",
            "abort": None, "dimse_count": 0, "commands": {}, "objects_stored": 0, "bytes_client": 0,
            "bytes_server": 0, "partial": mid_stream, "gaps": 0, "violations": [], "phi_attributes": {},
            "tls": None,
        }
        self._phi: Counter[str] = Counter()
        self._after_violation: dict[bool, PDUFramer] | None = None

    # ------------------------------------------------------------------ input
    def data(self, from_client: bool, data: bytes, ts: float) -> None:
        self.now = ts
        self.assoc["bytes_client" if from_client else "bytes_server"] += len(data)
        pending = self._resync[from_client]
        if pending is not None:
            pending += data
            start, self._scan_from[from_client] = self._find_boundary(pending, self._scan_from[from_client])
            if start is None:
                if len(pending) > RESYNC_WINDOW:
                    keep = min(len(pending) - self._scan_from[from_client], RESYNC_WINDOW // 2)
                    del pending[:-keep or None]
                    self._scan_from[from_client] = 0
                return
            data = bytes(pending[start:])
            self._resync[from_client] = None
            self._scan_from[from_client] = 0
            self.ul.discard_partial(from_client)
        if not self.ul.closed:
            events = self.ul.receive(data, from_requestor=from_client)
            if events:
                self._events(events)
        elif self._after_violation is not None:
            self._watch_for_abort(from_client, data)

    def _watch_for_abort(self, from_client: bool, data: bytes) -> None:
        """After a violation the upper layer is closed; still record how the peers ended it (A-ABORT)."""
        framers = self._after_violation
        if framers is None:
            return
        framer = framers.setdefault(from_client, PDUFramer(AFTER_VIOLATION_GUARD))
        try:
            pdus = framer.feed(data)
        except ProtocolError:
            framers[from_client] = PDUFramer(AFTER_VIOLATION_GUARD)
            return
        for pdu_type, body in pdus:
            if pdu_type == PDUType.ABORT and self.assoc["abort"] is None:
                with contextlib.suppress(ProtocolError):
                    pdu = decode_pdu(pdu_type, body)
                    if isinstance(pdu, Abort):
                        self._on_abort(ev.Aborted(pdu, from_requestor=from_client))

    def gap(self, from_client: bool, missing: int) -> None:
        """Bytes of one direction were not captured: resynchronise on the next PDU boundary."""
        self.assoc["gaps"] += 1
        self.assoc["partial"] = True
        self._current[from_client] = None
        if not self.ul.closed:
            self._resync[from_client] = bytearray()

    @staticmethod
    def _find_boundary(buf: bytearray, start: int) -> tuple[int | None, int]:
        """(position of the first confirmed PDU header at or after ``start`` or None, where to resume)."""
        data = bytes(buf)
        for match in _PDU_HEADER.finditer(data, start):
            pos = match.start()
            if plausible_pdu_start(data, pos):
                nxt = pos + 6 + int.from_bytes(data[pos + 2:pos + 6], "big")
                if data[pos] != 0x04 or len(data) >= nxt + 6:
                    return pos, 0
                return None, pos  # plausible: wait until the next header can confirm it
        return None, max(0, len(data) - 12)

    # ------------------------------------------------------------------ events
    def _events(self, events: list[Any]) -> None:
        for event in events:
            handler = _HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event)

    def _on_request(self, event: ev.AssociateRequested) -> None:
        rq = event.pdu
        a = self.assoc
        a.update(calling_ae=rq.calling_ae, called_ae=rq.called_ae, max_pdu_requestor=rq.max_pdu_length,
                 implementation_class_uid=rq.implementation_class_uid,
                 implementation_version=rq.implementation_version_name,
                 contexts=[{"id": c.id, "abstract_syntax": c.abstract_syntax, "transfer_syntax": None,
                            "result": None} for c in rq.contexts])
        if rq.user_identity is not None:
            try:
                a["user_identity"] = UserIdentityType(rq.user_identity.type).name.lower()
            except ValueError:
                a["user_identity"] = f"type-{rq.user_identity.type}"

    def _on_accept(self, event: ev.AssociateAccepted) -> None:
        ac = event.pdu
        self.assoc.update(result="accepted", max_pdu_acceptor=ac.max_pdu_length)
        if not self.assoc["implementation_class_uid"] or ac.implementation_class_uid:
            self.assoc["acceptor_implementation_class_uid"] = ac.implementation_class_uid
            self.assoc["acceptor_implementation_version"] = ac.implementation_version_name
        by_id = {c["id"]: c for c in self.assoc["contexts"]}
        for ctx in ac.contexts:
            entry = by_id.get(ctx.id)
            if entry is not None and ctx.result is not None:
                entry["result"] = ctx.result.name.lower()
                entry["transfer_syntax"] = ctx.transfer_syntaxes[0] if ctx.accepted and ctx.transfer_syntaxes else None

    def _on_reject(self, event: ev.AssociateRejected) -> None:
        rj = event.pdu
        self.assoc.update(result="rejected", end="rejected", reject={
            "result": rj.result.name.lower(), "source": rj.source.name.lower(),
            "reason": reject_reason_name(rj.source, rj.reason)})

    def _on_abort(self, event: ev.Aborted) -> None:
        reason = event.pdu.reason
        self.assoc.update(end="aborted", abort={
            "by": "requestor" if event.from_requestor else "acceptor",
            "source": event.pdu.source.name.lower(),
            "reason": reason.name.lower() if hasattr(reason, "name") else int(reason)})
        if self.assoc["result"] == "incomplete":
            self.assoc["result"] = "aborted"

    def _on_release(self, event: ev.ReleaseRequested | ev.ReleaseConfirmed) -> None:
        if isinstance(event, ev.ReleaseConfirmed) and self.ul.closed:
            self.assoc["end"] = "released"

    def _on_violation(self, event: ev.ProtocolViolation) -> None:
        self._after_violation = {}
        by = "requestor" if event.from_requestor else "acceptor"
        self.assoc["violations"].append({"by": by, "message": event.message, "offset": event.offset})

    def _on_command(self, event: ev.CommandReceived) -> None:
        cmd = event.command
        side = bool(event.from_requestor)
        cf = cmd.command_field
        self._current[side] = None
        if cf is None:
            return
        if cf is CommandField.C_CANCEL_RQ:
            op = self._ops.get((side, cmd.message_id_being_responded_to or 0))
            if op is not None:
                op.record["cancelled"] = True
            return
        if cf.is_request:
            op = self._new_op(event, cmd, cf, side)
        else:
            op = self._ops.get((not side, cmd.message_id_being_responded_to or 0))
            if op is not None:
                self._response(op, cmd)
        if cmd.has_dataset:
            ts = self.ul.contexts.get(event.context_id, (None, None))[1]
            implicit = None if ts is None else ts == uids.TransferSyntax.IMPLICIT_LE
            cur = self._current[side] = _Dataset(op, cf.is_request, implicit, transfer_syntax=ts)
            if self.inspect is not None and cf is CommandField.C_STORE_RQ:
                cur.full = []
        elif op is not None and not cf.is_request and op.record["status_category"] != _PENDING:
            self._finish_op(op)

    def _new_op(self, event: ev.CommandReceived, cmd: Command, cf: CommandField, side: bool) -> _Op:
        self.assoc["dimse_count"] += 1
        commands = self.assoc["commands"]
        commands[cf.service] = commands.get(cf.service, 0) + 1
        instance = cmd.affected_sop_instance_uid or cmd.requested_sop_instance_uid
        record: Record = {
            "kind": "dimse", "ts": iso(self.now), "ts_end": None, **self._ends_fields,
            "calling_ae": self.assoc["calling_ae"], "called_ae": self.assoc["called_ae"],
            "command": cf.service, "issuer": "requestor" if side else "acceptor", "message_id": cmd.message_id,
            "context_id": event.context_id, "sop_class": cmd.sop_class_uid, "priority": cmd.priority,
            "sop_instance": phi_hash(instance) if instance else None, "move_destination": cmd.move_destination,
            "move_originator_ae": cmd.move_originator_ae, "status": None, "status_category": None,
            "responses": 0, "matches": 0, "sub_operations": None, "request_bytes": 0, "response_bytes": 0,
            "objects": 0, "query": None, "phi_attributes": {}, "malformed_dataset": False, "cancelled": False,
            "complete": False,
        }
        op = _Op(record, side)
        if len(self._ops) >= MAX_OUTSTANDING:
            self._finish_op(next(iter(self._ops.values())))
        self._ops[(side, cmd.message_id or 0)] = op
        return op

    def _response(self, op: _Op, cmd: Command) -> None:
        r = op.record
        r["responses"] += 1
        status = cmd.status
        r["status"] = status
        category = None if status is None else status_category(status)
        r["status_category"] = None if category is None else category.value
        if category is StatusCategory.PENDING and cmd.has_dataset:
            r["matches"] += 1
        if cmd.remaining_sub_operations is not None or cmd.completed_sub_operations is not None:
            r["sub_operations"] = {"remaining": cmd.remaining_sub_operations,
                                   "completed": cmd.completed_sub_operations,
                                   "failed": cmd.failed_sub_operations, "warning": cmd.warning_sub_operations}

    def _on_data(self, event: ev.DataChunk) -> None:
        side = bool(event.from_requestor)
        cur = self._current[side]
        if cur is None:
            return
        data = event.data
        full = cur.full
        if full is not None:  # the head is cut from the whole data set at its end, not kept besides
            if cur.size + len(data) > INSPECT_MAX:
                for fragment in full:
                    cur.head += fragment[:HEAD_BYTES - len(cur.head)]
                full = cur.full = None
            else:
                full.append(data)
        cur.size += len(data)
        if full is None and len(cur.head) < HEAD_BYTES:
            cur.head += data[:HEAD_BYTES - len(cur.head)]
        if not event.last:
            return
        self._current[side] = None
        op = cur.op
        if op is None:
            return
        whole = None if full is None else b"".join(full)
        r = op.record
        r["request_bytes" if cur.is_request else "response_bytes"] += cur.size
        facts: DatasetFacts = examine(bytes(cur.head) if whole is None else whole[:HEAD_BYTES], cur.implicit,
                                      cur.size <= HEAD_BYTES, query=r["command"] != "C-STORE")
        for kw in facts.phi:
            op.phi[kw] += 1
            self._phi[kw] += 1
        r["malformed_dataset"] = r["malformed_dataset"] or facts.malformed
        if facts.uids and len(op.uids) < MAX_OP_UIDS:
            op.uids.update(u.strip(" \x00") for u in facts.uids[:MAX_OP_UIDS - len(op.uids)])
        if cur.is_request:
            if r["command"] == "C-STORE":
                r["objects"] = 1
                if self.inspect is not None:
                    r["inspection"] = (self.inspect(whole, cur.transfer_syntax) if whole is not None
                                       else [{"rule": "not-inspected", "severity": "info",
                                              "title": f"data set above {INSPECT_MAX} bytes"}])
            elif CommandField[r["command"].replace("-", "_") + "_RQ"] in _QUERY_SERVICES:
                r["query"] = {"level": facts.level, "restrictive_keys": facts.restrictive_keys,
                              "wildcard_keys": facts.wildcard_keys, "return_keys": facts.return_keys,
                              "broad": facts.broad_query}
        elif r["status_category"] != _PENDING:
            self._finish_op(op)

    def _finish_op(self, op: _Op) -> None:
        r = op.record
        key = (op.issuer_is_requestor, r["message_id"] or 0)
        if self._ops.get(key) is op:
            del self._ops[key]
        r["ts_end"] = iso(self.now)
        r["complete"] = r["status"] is not None and r["status_category"] != _PENDING
        r["phi_attributes"] = dict(sorted(op.phi.items()))
        if op.uids:  # keyed hashes: a UID links to a study, the record must not name it (honeytokens match hashes)
            r["uids"] = sorted(phi_hash(u) for u in op.uids)
        # "objects": data sets that crossed the wire; the association counts those the peer acknowledged
        if r["command"] == "C-STORE" and r["objects"] and r["status_category"] in _STORED:
            self.assoc["objects_stored"] += 1
        self.emit(r)

    # ------------------------------------------------------------------ end
    def finish(self, ts: float) -> Record:
        """The connection ended (or the capture did): emit what is outstanding and the association."""
        self.now = ts
        for op in list(self._ops.values()):
            self._finish_op(op)
        a = self.assoc
        a["ts_end"] = iso(ts)
        if a["end"] == "open" and self.ul.closed and a["result"] == "accepted" and not a["violations"]:
            a["end"] = "released"
        a["phi_attributes"] = dict(sorted(self._phi.items()))
        a["skipped_bytes"] = self.ul.skipped_bytes(True) + self.ul.skipped_bytes(False)
        if a["result"] == "unknown" and a["dimse_count"]:
            a["result"] = "accepted"
        self.emit(a)
        return a


_HANDLERS: dict[type, Callable[[DicomConversation, Any], None]] = {
    ev.AssociateRequested: DicomConversation._on_request,
    ev.AssociateAccepted: DicomConversation._on_accept,
    ev.AssociateRejected: DicomConversation._on_reject,
    ev.Aborted: DicomConversation._on_abort,
    ev.ReleaseRequested: DicomConversation._on_release,
    ev.ReleaseConfirmed: DicomConversation._on_release,
    ev.ProtocolViolation: DicomConversation._on_violation,
    ev.CommandReceived: DicomConversation._on_command,
    ev.DataChunk: DicomConversation._on_data,
}
