"""From frames to records: the flow table, protocol recognition by content, and conversations.

DICOM is recognised on any port by content: an A-ASSOCIATE-RQ at the start of the client's
stream (PS3.8 §9.3.2), or, for a connection already open when the capture started, a
self-consistent run of P-DATA-TF PDUs. TLS on a DICOM port is recorded with what the
handshake shows; anything else on a DICOM port, and connection attempts that never got an
answer, become ``connection`` records (inputs to the sweep and wrong-protocol detections).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from radguard.dicom.framing import plausible_pdu_start
from radguard.monitor import tls
from radguard.monitor.capture import CaptureError, Frame, read_packets
from radguard.monitor.conversation import DicomConversation, Endpoints, Inspector, Record, iso
from radguard.monitor.decode import Segment, decode_segment
from radguard.monitor.http import DEFAULT_WEB_PORTS, HttpConversation, UploadInspector, looks_like_request
from radguard.monitor.tcp import _ACK, _FIN, _RST, _SYN, DEFAULT_MAX_PENDING, FlowState, Reassembler

#: ports where DICOM (or DICOM over TLS) is expected (PS3.15 §B.1, IANA: 104, 2761, 2762, 11112; Orthanc 4242)
DEFAULT_DICOM_PORTS: frozenset[int] = frozenset({104, 2761, 2762, 4242, 11112})
#: bytes looked at before deciding what a connection carries
CLASSIFY_WINDOW = 64 * 1024
#: flows without a packet for this long (capture time) are closed
IDLE_TIMEOUT = 600.0
#: read buffer of a capture file: frames are read from it, not one system call each
READ_BUFFER = 1 << 20
#: open flows kept at most (a SYN flood must not exhaust memory); beyond it the oldest are closed
MAX_FLOWS = 200_000


def looks_like_associate_rq(data: bytes) -> bool:
    """An A-ASSOCIATE-RQ header: type 1, reserved 0, sane length, protocol version bit 0 (PS3.8 §9.3.2)."""
    if len(data) < 10 or data[0] != 0x01 or data[1] != 0:
        return False
    length = int.from_bytes(data[2:6], "big")
    return 68 <= length <= 1 << 20 and data[6] == 0 and data[7] & 1 == 1


@dataclass
class _Flow:
    ends: Endpoints
    ts_start: float
    ts_last: float
    syn: bool
    state: FlowState
    kind: str | None = None  # "dicom", "tls", "other" once known
    heads: dict[bool, bytearray] = field(default_factory=lambda: {True: bytearray(), False: bytearray()})
    conv: DicomConversation | None = None
    web: HttpConversation | None = None  # HTTP on a web port (monitor/http.py)
    reasm: Reassembler | None = None
    fins: int = 0
    bytes: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})


@dataclass
class Stats:
    frames: int = 0
    tcp_segments: int = 0
    flows: int = 0
    dicom_associations: int = 0


class Analyzer:
    """Feed frames (or segments); records come out through ``on_record`` in completion order."""

    def __init__(self, on_record: Callable[[Record], None], *, dicom_ports: Iterable[int] = DEFAULT_DICOM_PORTS,
                 max_pending: int = DEFAULT_MAX_PENDING, inspect: Inspector | None = None,
                 max_flows: int = MAX_FLOWS, web_ports: Iterable[int] = DEFAULT_WEB_PORTS,
                 inspect_upload: UploadInspector | None = None) -> None:
        self.on_record = on_record
        self.inspect_upload = inspect_upload
        self.max_flows = max_flows
        self.inspect = inspect
        self.dicom_ports = frozenset(dicom_ports)
        #: a port configured as a DICOM port stays one: HTTP there is non-DICOM traffic on a DICOM port
        self.web_ports = frozenset(web_ports) - self.dicom_ports
        self.max_pending = max_pending
        self.flows: dict[tuple[str, int, str, int], _Flow] = {}
        self.stats = Stats()
        self._last_sweep = 0.0
        #: servers where DICOM was seen: other protocols there are recorded too
        self.dicom_endpoints: set[tuple[str, int]] = set()

    # ------------------------------------------------------------------ input
    def feed_frame(self, frame: Frame) -> None:
        self.feed_packet(frame.ts, frame.linktype, frame.data)

    def feed_packet(self, ts: float, linktype: int, data: bytes) -> None:
        """:meth:`feed_frame` with the frame's fields (:func:`~radguard.monitor.capture.read_packets`)."""
        self.stats.frames += 1
        seg = decode_segment(ts, linktype, data)
        if seg is not None:
            self.feed_segment(seg)

    def feed_segment(self, seg: Segment) -> None:
        self.stats.tcp_segments += 1
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        flow = self.flows.get(key)
        from_client = True
        if flow is None:
            flow = self.flows.get((seg.dst, seg.dport, seg.src, seg.sport))
            from_client = False
        syn_only = seg.flags & (_SYN | _ACK) == _SYN
        if flow is not None and syn_only and (flow.fins or flow.state is FlowState.CLOSED or flow.bytes[True]):
            self._close(flow)  # port reuse: a new connection on the same 4-tuple
            flow = None
        if flow is None:
            if not seg.payload and not seg.flags & _SYN:
                return  # the last ACK of a closed connection, a stray RST: nothing to follow
            flow, from_client = self._new_flow(seg, syn_only)
        flow.ts_last = seg.ts
        self._segment(flow, from_client, seg)
        if seg.ts - self._last_sweep > 60:
            self._sweep_idle(seg.ts)

    def _new_flow(self, seg: Segment, syn_only: bool) -> tuple[_Flow, bool]:
        synack = seg.flags & (_SYN | _ACK) == _SYN | _ACK
        if syn_only:
            client_is_src = True
        elif synack:
            client_is_src = False
        else:  # picked up mid-connection: the well-known/lower port is the server's
            client_is_src = not (seg.sport in self.dicom_ports or (seg.sport < seg.dport
                                                                   and seg.dport not in self.dicom_ports))
        self.stats.flows += 1
        uid = f"C{self.stats.flows}"
        if client_is_src:
            ends = Endpoints(uid, seg.src, seg.sport, seg.dst, seg.dport)
        else:
            ends = Endpoints(uid, seg.dst, seg.dport, seg.src, seg.sport)
        flow = _Flow(ends, seg.ts, seg.ts, syn_only or synack,
                     FlowState.SYN_SENT if syn_only else FlowState.ESTABLISHED)
        flow.reasm = Reassembler(partial(self._data, flow), partial(self._gap, flow), self.max_pending)
        self.flows[(ends.client, ends.client_port, ends.server, ends.server_port)] = flow
        if len(self.flows) > self.max_flows:
            for oldest in list(self.flows.values())[: max(1, self.max_flows // 10)]:
                if oldest is not flow:
                    self._close(oldest)
        return flow, client_is_src

    def _segment(self, flow: _Flow, from_client: bool, seg: Segment) -> None:
        flags = seg.flags
        if flags & _RST:
            if flow.state is FlowState.SYN_SENT and not from_client:
                flow.state = FlowState.REFUSED
            self._close(flow)
            return
        if flags & _SYN and flags & _ACK and flow.state is FlowState.SYN_SENT:
            flow.state = FlowState.ESTABLISHED
        if seg.payload and flow.state is FlowState.SYN_SENT:
            flow.state = FlowState.ESTABLISHED
        assert flow.reasm is not None
        flow.reasm.add(from_client, seg)
        if flags & _FIN:
            flow.fins |= 1 if from_client else 2
        if flow.fins == 3 and flow.reasm.finished(True) and flow.reasm.finished(False):
            self._close(flow)

    # ------------------------------------------------------------------ content
    def _data(self, flow: _Flow, from_client: bool, data: bytes) -> None:
        flow.bytes[from_client] += len(data)
        if flow.kind is None:
            head = flow.heads[from_client]
            head += data[:CLASSIFY_WINDOW]
            flow.kind = self._classify(flow)
            if flow.kind is None:
                return
            if flow.kind == "dicom":
                self._start_dicom(flow)
            elif flow.kind == "http":
                self._start_http(flow)
            return
        if flow.web is not None:
            flow.web.data(from_client, data, flow.ts_last)
        elif flow.kind == "dicom" and flow.conv is not None:
            flow.conv.data(from_client, data, flow.ts_last)
        elif flow.kind == "tls":
            head = flow.heads[from_client]
            if len(head) < tls.TLS_HEAD:
                head += data[:tls.TLS_HEAD - len(head)]

    def _classify(self, flow: _Flow) -> str | None:
        client, server = flow.heads[True], flow.heads[False]
        if len(client) >= 10 and looks_like_associate_rq(bytes(client[:10])):
            return "dicom"
        if tls.looks_like_tls(bytes(client[:3])):
            return "tls"
        if flow.ends.server_port in self.web_ports and looks_like_request(bytes(client[:16])):
            return "http"
        if not flow.syn:
            for head in (client, server):
                data = bytes(head)
                pos = data.find(b"\x04\x00")
                while pos >= 0:
                    if plausible_pdu_start(data, pos):
                        nxt = pos + 6 + int.from_bytes(data[pos + 2:pos + 6], "big")
                        if len(data) >= nxt + 6:
                            return "dicom"
                    pos = data.find(b"\x04\x00", pos + 1)
        if (len(client) >= 10 or server) and flow.syn:
            return "other"
        if len(client) + len(server) >= CLASSIFY_WINDOW:
            return "other"
        return None

    def _start_dicom(self, flow: _Flow) -> None:
        self.stats.dicom_associations += 1
        if len(self.dicom_endpoints) < 100_000:
            self.dicom_endpoints.add((flow.ends.server, flow.ends.server_port))
        mid = not looks_like_associate_rq(bytes(flow.heads[True][:10]))
        conv = flow.conv = DicomConversation(flow.ends, self.on_record, mid_stream=mid, ts=flow.ts_start,
                                             inspect=self.inspect)
        for side in (True, False):
            head = bytes(flow.heads[side])
            if head:
                conv.data(side, head, flow.ts_last)
        flow.heads = {True: bytearray(), False: bytearray()}
        assert flow.reasm is not None
        counts = flow.bytes

        def dicom_data(from_client: bool, data: bytes) -> None:  # _data once the flow is DICOM, one call less
            counts[from_client] += len(data)
            conv.data(from_client, data, flow.ts_last)

        flow.reasm.on_data = dicom_data

    def _start_http(self, flow: _Flow) -> None:
        flow.web = HttpConversation(flow.ends, self.on_record, flow.ts_start, self.inspect_upload)
        for side in (True, False):
            if flow.heads[side]:
                flow.web.data(side, bytes(flow.heads[side]), flow.ts_last)
        flow.heads = {True: bytearray(), False: bytearray()}

    def _gap(self, flow: _Flow, from_client: bool, missing: int) -> None:
        if flow.web is not None:
            flow.web.gap(from_client, missing)
        if flow.conv is not None:
            flow.conv.gap(from_client, missing)

    # ------------------------------------------------------------------ end
    def _close(self, flow: _Flow) -> None:
        key = (flow.ends.client, flow.ends.client_port, flow.ends.server, flow.ends.server_port)
        if self.flows.get(key) is not flow:
            return
        del self.flows[key]
        assert flow.reasm is not None
        flow.reasm.flush()
        if flow.kind is None and (flow.heads[True] or flow.heads[False]):
            flow.kind = self._classify(flow) or "other"
            if flow.kind == "dicom":
                self._start_dicom(flow)
            elif flow.kind == "http":
                self._start_http(flow)
        if flow.web is not None:
            flow.web.finish(flow.ts_last)
        elif flow.conv is not None:
            flow.conv.assoc["bytes_client"], flow.conv.assoc["bytes_server"] = flow.bytes[True], flow.bytes[False]
            flow.conv.finish(flow.ts_last)
        elif flow.kind == "tls" and flow.ends.server_port in self.dicom_ports:
            self.on_record(self._tls_record(flow))
        elif (flow.ends.server_port in self.dicom_ports or flow.state in (FlowState.SYN_SENT, FlowState.REFUSED)
              or (flow.ends.server, flow.ends.server_port) in self.dicom_endpoints):
            self.on_record(self._connection_record(flow))

    def _base(self, flow: _Flow, kind: str) -> Record:
        return {"kind": kind, "ts": iso(flow.ts_start), "ts_end": iso(flow.ts_last), **flow.ends.fields(),
                "bytes_client": flow.bytes[True], "bytes_server": flow.bytes[False], "partial": not flow.syn}

    def _tls_record(self, flow: _Flow) -> Record:
        rec = self._base(flow, "association")
        rec.update(calling_ae=None, called_ae=None, result="encrypted", transport="tls",
                   tls=tls.inspect(bytes(flow.heads[True]), bytes(flow.heads[False])))
        return rec

    def _connection_record(self, flow: _Flow) -> Record:
        rec = self._base(flow, "connection")
        rec.update(state=flow.state.value, protocol=flow.kind or "none",
                   dicom_port=flow.ends.server_port in self.dicom_ports)
        return rec

    def _sweep_idle(self, now: float) -> None:
        self._last_sweep = now
        for flow in [f for f in self.flows.values() if now - f.ts_last > IDLE_TIMEOUT]:
            self._close(flow)

    def finish(self) -> None:
        """End of input: close every open flow (their records are emitted)."""
        for flow in sorted(self.flows.values(), key=lambda f: f.ts_start):
            self._close(flow)


@dataclass
class Analysis:
    """Everything one run of ``radguard pcap`` learned."""

    records: list[Record] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)


def analyze(paths: Iterable[Path], *, on_record: Callable[[Record], None] | None = None,
            keep_records: bool = True, dicom_ports: Iterable[int] = DEFAULT_DICOM_PORTS,
            inspect: Inspector | None = None, web_ports: Iterable[int] = DEFAULT_WEB_PORTS,
            inspect_upload: UploadInspector | None = None) -> Analysis:
    """Read capture files in order into one flow table (a capture split in files stays one capture).

    A file that cannot be read, or is damaged part-way, adds an entry to ``errors``; the frames
    before the damage are analysed.
    """
    result = Analysis()

    def emit(record: Record) -> None:
        if keep_records:
            result.records.append(record)
        if on_record is not None:
            on_record(record)

    analyzer = Analyzer(emit, dicom_ports=dicom_ports, inspect=inspect, web_ports=web_ports,
                        inspect_upload=inspect_upload)
    for path in paths:
        try:
            with open(path, "rb", buffering=READ_BUFFER) as fh:
                feed = analyzer.feed_packet
                for ts, linktype, data in read_packets(fh):
                    feed(ts, linktype, data)
        except CaptureError as exc:
            result.errors.append({"file": str(path), "error": str(exc)})
        except OSError as exc:
            result.errors.append({"file": str(path), "error": f"cannot read: {exc.strerror or exc}"})
    analyzer.finish()
    result.stats = analyzer.stats
    return result
