"""The sans-io upper layer against real peers on loopback: DCMTK storescp as acceptor for our
requestor, and DCMTK echoscu/storescu as requestors for a tiny acceptor built on UpperLayer."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread
from pydicom.data import get_testdata_file
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from radguard.dicom import uids
from radguard.dicom.dimse import c_echo_rq, c_store_rq, response
from radguard.dicom.enums import ContextResult, Status
from radguard.dicom.events import (
    AssociateAccepted,
    AssociateRequested,
    CommandReceived,
    Event,
    ReleaseConfirmed,
    ReleaseRequested,
)
from radguard.dicom.messages import DimseMessage, MessageAssembler
from radguard.dicom.pdu import AssociateAccept, AssociateRequest, PresentationContext, ReleaseRequest, ReleaseResponse
from radguard.dicom.ul import Role, UpperLayer
from tests.support.peers import LOOPBACK, Peer, dcmtk_env, free_port

pytestmark = pytest.mark.integration

CT = get_testdata_file("CT_small.dcm")


def _encode(ds: Dataset, implicit: bool) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)
    return fp.getvalue()


def _until(sock: socket.socket, ul: UpperLayer, want: Callable[[Event], bool]) -> list[Event]:
    seen: list[Event] = []
    while True:
        data = sock.recv(65536)
        assert data, f"peer closed the connection; events so far: {seen}"
        for event in ul.receive(data):
            seen.append(event)
            if want(event):
                return seen


def test_requestor_echo_and_store_to_storescp(storescp: Peer) -> None:
    ds = dcmread(CT)
    ul = UpperLayer(Role.REQUESTOR)
    rq = AssociateRequest(called_ae=storescp.ae, calling_ae="RGTEST", contexts=[
        PresentationContext(1, uids.VERIFICATION, [uids.IMPLICIT_VR_LITTLE_ENDIAN]),
        PresentationContext(3, uids.CT_IMAGE_STORAGE, [uids.EXPLICIT_VR_LITTLE_ENDIAN]),
    ])
    with socket.create_connection((storescp.host, storescp.port), timeout=10) as sock:
        sock.sendall(ul.send(rq))
        events = _until(sock, ul, lambda e: isinstance(e, AssociateAccepted))
        assert ul.contexts == {1: (uids.VERIFICATION, uids.IMPLICIT_VR_LITTLE_ENDIAN),
                               3: (uids.CT_IMAGE_STORAGE, uids.EXPLICIT_VR_LITTLE_ENDIAN)}
        assert ul.peer_max_pdu is not None and ul.peer_max_pdu > 0
        accept = events[-1]
        assert isinstance(accept, AssociateAccepted) and accept.pdu.implementation_class_uid
        for pdu in ul.send_dimse(1, c_echo_rq(1)):
            sock.sendall(pdu)
        rsp = _until(sock, ul, lambda e: isinstance(e, CommandReceived))[-1]
        assert isinstance(rsp, CommandReceived)
        assert (rsp.command.message_id_being_responded_to, rsp.command.status) == (1, Status.SUCCESS)

        pdus = ul.send_dimse(3, c_store_rq(2, ds.SOPClassUID, ds.SOPInstanceUID), _encode(ds, implicit=False))
        assert len(pdus) > 2  # the data set really is fragmented
        for pdu in pdus:
            sock.sendall(pdu)
        rsp = _until(sock, ul, lambda e: isinstance(e, CommandReceived))[-1]
        assert isinstance(rsp, CommandReceived)
        assert rsp.command.status == Status.SUCCESS
        assert rsp.command.affected_sop_instance_uid == ds.SOPInstanceUID

        sock.sendall(ul.send(ReleaseRequest()))
        _until(sock, ul, lambda e: isinstance(e, ReleaseConfirmed))
        assert ul.closed
    stored = list(Path(storescp.extra["store"]).iterdir())
    assert len(stored) == 1
    assert dcmread(stored[0]).SOPInstanceUID == ds.SOPInstanceUID


class _Acceptor:
    """A one-association-at-a-time acceptor on UpperLayer: answers C-ECHO and C-STORE with success."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.create_server((LOOPBACK, self.port))
        self.messages: list[DimseMessage] = []
        self.contexts: dict[int, tuple[str | None, str | None]] = {}
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self._association(conn)

    def _association(self, conn: socket.socket) -> None:
        ul = UpperLayer(Role.ACCEPTOR)
        assembler = MessageAssembler()
        while not ul.closed:
            data = conn.recv(65536)
            if not data:
                return
            for event in ul.receive(data):
                if isinstance(event, AssociateRequested):
                    rq = event.pdu
                    ctxs = [PresentationContext(c.id, None, c.transfer_syntaxes[:1], ContextResult.ACCEPTANCE)
                            for c in rq.contexts]
                    conn.sendall(ul.send(AssociateAccept(rq.called_ae, rq.calling_ae, ctxs)))
                    self.contexts = dict(ul.contexts)
                elif isinstance(event, ReleaseRequested):
                    conn.sendall(ul.send(ReleaseResponse()))
                else:
                    msg = assembler.feed(event)
                    if msg is not None:
                        self.messages.append(msg)
                        for pdu in ul.send_dimse(msg.context_id, response(msg.command, Status.SUCCESS)):
                            conn.sendall(pdu)

    def close(self) -> None:
        self.sock.close()


def test_dcmtk_requestors_against_upper_layer_acceptor() -> None:
    acceptor = _Acceptor()
    try:
        env = dcmtk_env()
        echo = subprocess.run(["echoscu", "-aec", "RGACC", LOOPBACK, str(acceptor.port)], env=env,
                              capture_output=True, timeout=30)
        assert echo.returncode == 0, echo.stderr
        store = subprocess.run(["storescu", "-aec", "RGACC", LOOPBACK, str(acceptor.port), CT], env=env,
                               capture_output=True, timeout=30)
        assert store.returncode == 0, store.stderr
    finally:
        acceptor.close()
    echo_msg, store_msg = acceptor.messages
    assert echo_msg.command.sop_class_uid == uids.VERIFICATION and echo_msg.dataset is None
    assert store_msg.command.sop_class_uid == uids.CT_IMAGE_STORAGE
    assert store_msg.dataset is not None
    _, ts = acceptor.contexts[store_msg.context_id]
    fp = DicomBytesIO(store_msg.dataset)
    fp.is_little_endian = True
    fp.is_implicit_VR = ts == uids.IMPLICIT_VR_LITTLE_ENDIAN
    from pydicom.filereader import read_dataset

    got = read_dataset(fp, fp.is_implicit_VR, True)
    assert got.SOPInstanceUID == dcmread(CT).SOPInstanceUID == store_msg.command.affected_sop_instance_uid


def test_pynetdicom_requestor_against_upper_layer_acceptor() -> None:
    from pynetdicom import AE

    acceptor = _Acceptor()
    try:
        ae = AE(ae_title="PYNET")
        ae.add_requested_context(uids.VERIFICATION)
        assoc = ae.associate(LOOPBACK, acceptor.port, ae_title="RGACC")
        assert assoc.is_established
        status = assoc.send_c_echo()
        assert status.Status == Status.SUCCESS
        assoc.release()
        assert assoc.is_released
    finally:
        acceptor.close()
    assert [m.command.sop_class_uid for m in acceptor.messages] == [uids.VERIFICATION]
