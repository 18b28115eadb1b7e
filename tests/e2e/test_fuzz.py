"""Hostile input to the shared parsers: random bytes, mutated valid PDUs and files, huge lengths.

Contract (DESIGN.md "bad input = result not crash"): the sans-io upper layer returns
ProtocolViolation events (or raises radguard.errors.ProtocolError); the Part 10 reader and the
archive checks return a Part10 with ``issue`` / findings; the pcap reader raises CaptureError
(a RadguardError) or yields frames. Never another exception, never unbounded buffering.
"""

from __future__ import annotations

import contextlib
import io
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radguard.catalog import is_known
from radguard.dicom import part10, uids
from radguard.dicom.dimse import c_echo_rq, c_store_rq, fragment
from radguard.dicom.events import ProtocolViolation
from radguard.dicom.framing import PDUFramer
from radguard.dicom.messages import MessageAssembler
from radguard.dicom.pdu import AssociateRequest, PresentationContext, ReleaseRequest, decode_pdu
from radguard.dicom.ul import Role, UpperLayer
from radguard.errors import ProtocolError, RadguardError
from radguard.inspect.api import inspect_bytes, inspect_dataset
from radguard.models import Finding
from radguard.monitor.capture import read_frames
from radguard.range.samples import bundled

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

RQ = AssociateRequest("PACS", "CT01", [
    PresentationContext(1, uids.VERIFICATION, [uids.IMPLICIT_VR_LITTLE_ENDIAN]),
    PresentationContext(3, uids.CT_IMAGE_STORAGE, [uids.EXPLICIT_VR_LITTLE_ENDIAN]),
], max_pdu_length=4096)
VALID = b"".join([RQ.encode(), *fragment(1, c_echo_rq(1).encode(), None, 4096),
                  *fragment(3, c_store_rq(2, uids.CT_IMAGE_STORAGE, "1.2.3").encode(), bytes(300), 4096),
                  ReleaseRequest().encode()])
CT = bundled("CT_small.dcm").read_bytes()
MR = bundled("MR_small.dcm").read_bytes()
GUARD = 1 << 20


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` with a few byte flips, insertions, deletions, truncation, and 32-bit length stomps."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "length"]))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[pos:]
        else:
            value = draw(st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFE, len(data) * 2]))
            data[pos:pos + 4] = struct.pack(draw(st.sampled_from(["<L", ">L"])), value)
    return bytes(data)


def _feed_ul(role: Role, data: bytes, chunk: int) -> None:
    ul = UpperLayer(role, pdu_length_guard=GUARD)
    asm = MessageAssembler(max_dataset=GUARD)
    for i in range(0, len(data), chunk):
        try:
            events = ul.receive(data[i:i + chunk], from_requestor=True if role is Role.OBSERVER else None)
        except ProtocolError:
            return
        for ev in events:
            try:
                asm.feed(ev)
            except ProtocolError:
                return
            if isinstance(ev, ProtocolViolation):
                assert isinstance(ev.message, str) and ev.offset >= 0
        for stream in ul._streams.values():  # bounded buffering: never beyond the guard
            assert stream.framer.buffered <= GUARD + 6


@pytest.mark.parametrize("role", [Role.ACCEPTOR, Role.OBSERVER])
@FUZZ
@given(data=st.binary(max_size=2048), chunk=st.integers(1, 700))
def test_upper_layer_random_bytes(role: Role, data: bytes, chunk: int) -> None:
    _feed_ul(role, data, chunk)


@pytest.mark.parametrize("role", [Role.ACCEPTOR, Role.OBSERVER])
@FUZZ
@given(data=mutated(VALID), chunk=st.integers(1, 4096))
def test_upper_layer_mutated_pdus(role: Role, data: bytes, chunk: int) -> None:
    _feed_ul(role, data, chunk)


@FUZZ
@given(pdu_type=st.integers(0, 255), body=st.one_of(st.binary(max_size=512), mutated(VALID[6:600])))
def test_decode_pdu_only_protocol_errors(pdu_type: int, body: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_pdu(pdu_type, body)


@FUZZ
@given(pdu_type=st.integers(0, 255), length=st.integers(GUARD + 1, 0xFFFFFFFF))
def test_huge_length_refused_before_buffering(pdu_type: int, length: int) -> None:
    framer = PDUFramer(GUARD)
    with pytest.raises(ProtocolError):
        framer.feed(struct.pack(">BBL", pdu_type, 0, length) + bytes(64))
    assert framer.buffered <= 64 + 6
    ul = UpperLayer(Role.ACCEPTOR, pdu_length_guard=GUARD)
    events = ul.receive(struct.pack(">BBL", pdu_type, 0, length) + bytes(64))
    assert any(isinstance(e, ProtocolViolation) for e in events)


def _check_findings(findings: list[Finding]) -> None:
    for f in findings:
        assert f.rule and f.title and f.remediation and f.target == "fuzz.dcm"
        assert all(is_known(c) for c in f.controls), f.controls


@FUZZ
@given(data=st.one_of(mutated(CT), mutated(MR), st.binary(max_size=1024)))
def test_part10_and_inspect_never_raise(data: bytes) -> None:
    p = part10.parse(data)
    assert p.size == len(data)
    _check_findings(inspect_bytes(data, "fuzz.dcm"))


@FUZZ
@given(data=mutated(CT[132 + 200:]), ts=st.sampled_from([uids.IMPLICIT_VR_LITTLE_ENDIAN,
                                                        uids.EXPLICIT_VR_LITTLE_ENDIAN, "1.2.840.10008.1.2.2",
                                                        "1.2.840.10008.1.2.1.99", "9.9.9"]))
def test_bare_dataset_never_raises(data: bytes, ts: str) -> None:
    part10.parse(data, transfer_syntax=ts)
    _check_findings(inspect_dataset(data, ts, "fuzz.dcm"))


def _pcap(payloads: list[bytes]) -> bytes:
    out = struct.pack("<LHHlLLL", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, p in enumerate(payloads):
        out += struct.pack("<LLLL", 1_700_000_000 + i, 0, len(p), len(p)) + p
    return out


PCAP = _pcap([bytes(14) + b"\x45" + bytes(60)] * 4)
PCAPNG = bytes.fromhex("0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000")


@FUZZ
@given(data=st.one_of(mutated(PCAP), mutated(PCAPNG), st.binary(max_size=512)))
def test_capture_reader_only_capture_errors(data: bytes) -> None:
    with contextlib.suppress(RadguardError):
        for _frame in read_frames(io.BytesIO(data)):
            pass
