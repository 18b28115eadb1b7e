"""DICOM traffic on the wire, built from radguard's own PDU/DIMSE codecs and pydicom data sets, cut into
TCP segments and run through the monitor's :class:`~radguard.monitor.analyzer.Analyzer`: the records
come out exactly as ``radguard pcap`` builds them from a capture (no hand-written record dicts).

>>> traffic = Traffic()
>>> traffic.association(rq("PACS", "CT01"), [echo()], client="10.0.0.9", t=1.0)
>>> records = traffic.records()
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from radguard.dicom import uids
from radguard.dicom.dimse import (
    c_echo_rq,
    c_echo_rsp,
    c_find_rq,
    c_move_rq,
    c_store_rq,
    c_store_rsp,
    fragment,
    response,
)
from radguard.dicom.enums import ContextResult, RejectResult, RejectSource, Status
from radguard.dicom.pdu import (
    AssociateAccept,
    AssociateReject,
    AssociateRequest,
    PresentationContext,
    ReleaseRequest,
    ReleaseResponse,
)
from radguard.models import Finding
from radguard.monitor.analyzer import DEFAULT_DICOM_PORTS, Analyzer
from radguard.monitor.conversation import Inspector
from radguard.monitor.decode import Segment, TCPFlag

#: capture time of ``t=0`` (seconds since the epoch)
T0 = 1_700_000_000.0
IMPLICIT = uids.IMPLICIT_VR_LITTLE_ENDIAN
#: (context id, abstract syntax) proposed by :func:`rq` and accepted by :func:`ac`
CONTEXTS: tuple[tuple[int, str], ...] = (
    (1, uids.VERIFICATION),
    (3, uids.CT_IMAGE_STORAGE),
    (5, uids.STUDY_ROOT_QR_FIND),
    (7, uids.STUDY_ROOT_QR_MOVE),
)
CTX = {uid: cid for cid, uid in CONTEXTS}
PDU_MAX = 16384

Message = tuple[bool, bytes]  # (from the client, bytes)
#: the PHI values :func:`image` and :func:`query` put on the wire by default: no finding may carry one
PHI_VALUES = ("Doe^Jane", "Doe", "ID-123", "19700101")


def assert_no_phi(findings: Iterable[Finding], *values: str) -> None:
    """No PHI value (:data:`PHI_VALUES` and ``values``) in any finding's title, target or evidence."""
    for f in findings:
        text = json.dumps([f.title, f.target, dict(f.evidence)], default=str)
        leaked = [v for v in (*PHI_VALUES, *values) if v in text]
        assert not leaked, (f.rule, leaked)


def dataset_bytes(ds: Dataset) -> bytes:
    """A data set encoded by pydicom in Implicit VR Little Endian (the transfer syntax :func:`ac` accepts)."""
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_dataset(fp, ds)
    return fp.getvalue()


def image(sop_instance: str = "1.2.826.0.1.3680043.8.498.1", *, patient: str = "Doe^Jane",
          patient_id: str = "ID-123", pixels: int = 2048) -> Dataset:
    """A small CT image data set with PHI (name, ID, birth date)."""
    ds = Dataset()
    ds.SOPClassUID = uids.CT_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_instance
    ds.PatientName = patient
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.StudyInstanceUID = sop_instance + ".1"
    ds.Rows, ds.Columns, ds.BitsAllocated = 32, pixels // 64, 16
    ds.PixelData = bytes(pixels)
    return ds


def query(level: str = "STUDY", **keys: str) -> Dataset:
    """A C-FIND identifier: QueryRetrieveLevel plus ``keys`` (keyword -> value; "" is a return key)."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def rq(called: str = "PACS", calling: str = "CT01") -> AssociateRequest:
    return AssociateRequest(called, calling, [PresentationContext(cid, uid, [IMPLICIT]) for cid, uid in CONTEXTS])


def ac(request: AssociateRequest) -> AssociateAccept:
    return AssociateAccept(request.called_ae, request.calling_ae,
                           [PresentationContext(c.id, None, [IMPLICIT], ContextResult.ACCEPTANCE)
                            for c in request.contexts])


def rj(reason: int, source: RejectSource = RejectSource.SERVICE_USER) -> AssociateReject:
    return AssociateReject(RejectResult.REJECTED_PERMANENT, source, reason)


def _msg(from_client: bool, cid: int, command: bytes, data: bytes | None = None) -> Message:
    return from_client, b"".join(fragment(cid, command, data, PDU_MAX))


def echo(message_id: int = 1) -> list[Message]:
    return [_msg(True, CTX[uids.VERIFICATION], c_echo_rq(message_id).encode()),
            _msg(False, CTX[uids.VERIFICATION], c_echo_rsp(message_id).encode())]


def store(ds: Dataset | bytes, message_id: int = 1, status: int = Status.SUCCESS,
          sop_instance: str | None = None) -> list[Message]:
    """A C-STORE of ``ds`` (a pydicom data set, or data-set bytes crafted by the test) and its response;
    the command names ``sop_instance`` (default: the data set's SOP Instance UID, or ``1.2.3.<message id>``)."""
    data = ds if isinstance(ds, bytes) else dataset_bytes(ds)
    instance = sop_instance or (f"1.2.3.{message_id}" if isinstance(ds, bytes) else str(ds.SOPInstanceUID))
    cid = CTX[uids.CT_IMAGE_STORAGE]
    return [_msg(True, cid, c_store_rq(message_id, uids.CT_IMAGE_STORAGE, instance).encode(), data),
            _msg(False, cid, c_store_rsp(message_id, uids.CT_IMAGE_STORAGE, instance, status).encode())]


def find(identifier: Dataset, matches: Sequence[Dataset] = (), message_id: int = 1) -> list[Message]:
    """A C-FIND with ``identifier`` answered by one pending response per match, then success."""
    cid = CTX[uids.STUDY_ROOT_QR_FIND]
    req = c_find_rq(message_id, uids.STUDY_ROOT_QR_FIND)
    out = [_msg(True, cid, req.encode(), dataset_bytes(identifier))]
    pending = response(req, Status.PENDING, has_dataset=True).encode()
    out += [_msg(False, cid, pending, dataset_bytes(m)) for m in matches]
    out.append(_msg(False, cid, response(req, Status.SUCCESS).encode()))
    return out


def move(destination: str, completed: int, message_id: int = 1) -> list[Message]:
    """A study-level C-MOVE to ``destination`` whose final response reports ``completed`` sub-operations."""
    cid = CTX[uids.STUDY_ROOT_QR_MOVE]
    req = c_move_rq(message_id, uids.STUDY_ROOT_QR_MOVE, destination)
    ident = query("STUDY", StudyInstanceUID="1.2.826.0.1.3680043.8.498.7")
    return [_msg(True, cid, req.encode(), dataset_bytes(ident)),
            _msg(False, cid, response(req, Status.SUCCESS, sub_operations=(0, completed, 0, 0)).encode())]


@dataclass
class Traffic:
    """TCP connections on one timeline; :meth:`records` runs them through the monitor's analyzer."""

    segments: list[Segment] = field(default_factory=list)
    _next_port: int = 40000

    def _port(self) -> int:
        self._next_port += 1
        return self._next_port

    def connection(self, messages: Iterable[Message], *, client: str = "10.0.0.1", server: str = "10.0.0.2",
                   port: int = 104, t: float = 0.0, mss: int = 1400) -> None:
        """One TCP connection (handshake, the messages cut into segments, FIN from both sides)."""
        cport = self._port()
        seq = {True: 1_000_000, False: 4_294_960_000}  # the server's sequence numbers wrap around 2**32
        ts = T0 + t

        def seg(from_client: bool, flags: int, payload: bytes = b"") -> None:
            nonlocal ts
            ts += 0.0005
            src, sport, dst, dport = (client, cport, server, port) if from_client else (server, port, client, cport)
            ack = seq[not from_client] % 2**32 if flags & TCPFlag.ACK else 0
            self.segments.append(Segment(ts, src, sport, dst, dport, seq[from_client] % 2**32, ack, flags, payload))
            seq[from_client] += len(payload) + (1 if flags & (TCPFlag.SYN | TCPFlag.FIN) else 0)

        seg(True, TCPFlag.SYN)
        seg(False, TCPFlag.SYN | TCPFlag.ACK)
        seg(True, TCPFlag.ACK)
        for from_client, data in messages:
            for i in range(0, len(data), mss):
                seg(from_client, TCPFlag.ACK | TCPFlag.PSH, data[i:i + mss])
        seg(True, TCPFlag.FIN | TCPFlag.ACK)
        seg(False, TCPFlag.FIN | TCPFlag.ACK)

    def association(self, request: AssociateRequest, operations: Iterable[Sequence[Message]] = (), *,
                    reject: AssociateReject | None = None, **where: Any) -> None:
        """One association: ``request``, accepted (then ``operations`` and a release) or rejected."""
        messages: list[Message] = [(True, request.encode())]
        if reject is not None:
            messages.append((False, reject.encode()))
        else:
            messages.append((False, ac(request).encode()))
            for op in operations:
                messages += op
            messages += [(True, ReleaseRequest().encode()), (False, ReleaseResponse().encode())]
        self.connection(messages, **where)

    def refused(self, *, client: str, server: str, port: int = 104, t: float = 0.0) -> None:
        """A connection attempt answered with RST (closed port)."""
        cport = self._port()
        self.segments += [Segment(T0 + t, client, cport, server, port, 7, 0, TCPFlag.SYN, b""),
                          Segment(T0 + t + 0.0001, server, port, client, cport, 0, 8, TCPFlag.RST | TCPFlag.ACK, b"")]

    def records(self, *, inspect: Inspector | None = None, dicom_ports: Iterable[int] = DEFAULT_DICOM_PORTS,
                **web: Any) -> list[dict[str, Any]]:
        """The analyzer's records (``web``: its ``web_ports`` and ``inspect_upload``)."""
        out: list[dict[str, Any]] = []
        analyzer = Analyzer(out.append, dicom_ports=dicom_ports, inspect=inspect, **web)
        for s in sorted(self.segments, key=lambda s: s.ts):
            analyzer.feed_segment(s)
        analyzer.finish()
        return out
