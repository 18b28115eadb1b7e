"""The ``dicom_services`` probe against a scripted in-process acceptor: what each DIMSE answer makes of
echo, query, retrieve and store (PS3.4 C.4 statuses: open, refused, inconclusive, not offered), the
``--intrusive`` match counts and test object, identifier encoding, and the findings drawn from it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset

from radguard.assess.evaluate import dicom_findings
from radguard.assess.probes import dicom_services
from radguard.assess.probes.dicom_services import (
    TEST_OBJECT_LABEL,
    Verdict,
    encode_dataset,
    encode_identifier,
    fresh_uid,
    synthetic_object,
)
from radguard.dicom import uids
from radguard.dicom.dimse import Command, c_echo_rsp, response
from radguard.dicom.enums import CommandField, Status
from radguard.dicom.messages import DimseMessage
from tests.support.acceptor import ABORT, Script, run_probes, serving
from tests.support.wire import dataset_bytes, query

Answers = Sequence[tuple[Command, bytes | None]] | str


def archive(*, find: int = Status.SUCCESS, matches: int = 0, move: int = Status.SUCCESS,
            get: int = Status.SUCCESS, store: int = Status.SUCCESS, abort_on: CommandField | None = None) -> Script:
    """An acceptor offering every service, answering each request with the given status."""
    def answer(msg: DimseMessage) -> Answers:
        cmd = msg.command
        cf = cmd.command_field
        if cf is abort_on:
            return ABORT
        if cf is CommandField.C_ECHO_RQ:
            return [(c_echo_rsp(cmd.message_id or 0), None)]
        if cf is CommandField.C_CANCEL_RQ:
            return []
        if cf is CommandField.C_FIND_RQ:
            match = dataset_bytes(query("STUDY", StudyInstanceUID="1.2.3", PatientName="Doe^Jane"))
            pending = [(response(cmd, Status.PENDING, has_dataset=True), match)] * matches
            return [*pending, (response(cmd, find), None)] if find != Status.PENDING else pending
        status = {CommandField.C_MOVE_RQ: move, CommandField.C_GET_RQ: get, CommandField.C_STORE_RQ: store}[cf]  # type: ignore[index]
        return [(response(cmd, status), None)]

    return Script(offers=None, answer=answer)


def test_an_open_archive() -> None:
    script = archive(matches=0)
    access, services = run_probes(script)
    assert services is not None
    verdicts = {k: v["verdict"] for k, v in services.to_dict().items()}
    assert verdicts == {"echo": "open", "query": "open", "move": "open", "get": "open"}  # no store unless intrusive
    assert services.query is not None and services.query.detail == {"query": "non-existent StudyInstanceUID",
                                                                    "matches": 0}
    find = next(m for m in script.requests if m.command.command_field is CommandField.C_FIND_RQ)
    assert find.dataset is not None
    ident = read_dataset(DicomBytesIO(find.dataset), is_implicit_VR=True, is_little_endian=True)
    assert ident.QueryRetrieveLevel == "STUDY" and ident.StudyInstanceUID.startswith("2.25.")
    rules = sorted(f.rule for f in dicom_findings("h:104", False, access, services))
    assert rules == ["dicom-any-called-ae", "dicom-any-calling-ae", "dicom-cleartext", "dicom-open-query",
                     "dicom-open-retrieve"]


def test_intrusive_counts_matches_and_stores_a_labelled_test_object(monkeypatch: pytest.MonkeyPatch) -> None:
    script = archive(matches=3)
    access, services = run_probes(script, intrusive=True)
    assert services is not None and services.store is not None and services.store.verdict is Verdict.OPEN
    assert services.query_counts == {"cap": 100, "studies": 3, "studies_capped": False, "patients": 3,
                                     "patients_capped": False}
    stored = next(m for m in script.requests if m.command.command_field is CommandField.C_STORE_RQ)
    assert stored.dataset is not None and TEST_OBJECT_LABEL.encode() in stored.dataset
    findings = {f.rule: f for f in dicom_findings("h:104", False, access, services)}
    assert findings["dicom-open-query"].evidence["match_counts"]["studies"] == 3
    assert findings["dicom-open-store"].evidence["status"] == "0x0000"
    assert "Doe" not in str([dict(f.evidence) for f in findings.values()])  # the matches' values are dropped
    monkeypatch.setattr(dicom_services, "MATCH_COUNT_CAP", 2)
    _, capped = run_probes(archive(matches=5), intrusive=True)
    assert capped is not None and capped.query_counts["studies"] == 2 and capped.query_counts["studies_capped"]


def test_a_refusing_archive() -> None:
    access, services = run_probes(archive(find=Status.NOT_AUTHORIZED, move=Status.MOVE_DESTINATION_UNKNOWN,
                                          get=Status.NOT_AUTHORIZED, store=Status.NOT_AUTHORIZED), intrusive=True)
    assert services is not None
    assert {k: v["verdict"] for k, v in services.to_dict().items()} == {
        "echo": "open", "query": "refused", "move": "refused", "get": "refused", "store": "refused"}
    assert services.move is not None and services.move.to_dict()["status"] == "0xA801"
    rules = {f.rule for f in dicom_findings("h:104", True, access, services)}
    assert rules == {"dicom-any-called-ae", "dicom-any-calling-ae"}


def test_other_failures_are_inconclusive_and_not_findings() -> None:
    access, services = run_probes(archive(find=0xC000, move=0xC001))  # "unable to process" failures
    assert services is not None and services.query is not None and services.move is not None
    assert services.query.verdict is Verdict.INCONCLUSIVE and services.move.verdict is Verdict.INCONCLUSIVE
    assert "dicom-open-query" not in {f.rule for f in dicom_findings("h:104", True, access, services)}


def test_an_abort_refuses_and_ends_the_probes_without_reconnect() -> None:
    _, services = run_probes(archive(abort_on=CommandField.C_FIND_RQ))
    assert services is not None and services.query is not None
    assert services.query.to_dict() == {"verdict": "refused", "refused_by": "aborted"}
    assert services.move is None and services.get is None and services.error is None


def test_services_not_offered() -> None:
    _, services = run_probes(Script())  # verification only
    assert services is not None
    assert {k: v["verdict"] for k, v in services.to_dict().items()} == {
        "echo": "open", "query": "not-offered", "move": "not-offered", "get": "not-offered"}


@pytest.mark.parametrize("ts", [uids.IMPLICIT_VR_LITTLE_ENDIAN, uids.EXPLICIT_VR_LITTLE_ENDIAN])
def test_identifier_encoding_matches_pydicom(ts: str) -> None:
    ident = {"StudyInstanceUID": fresh_uid(), "QueryRetrieveLevel": "STUDY", "PatientID": "RADGUARD-X"}
    raw = encode_identifier(ident, ts)
    assert raw == encode_dataset(ident, ts)
    ds = read_dataset(DicomBytesIO(raw), is_implicit_VR=ts == uids.IMPLICIT_VR_LITTLE_ENDIAN, is_little_endian=True)
    assert ds.StudyInstanceUID == ident["StudyInstanceUID"] and ds.QueryRetrieveLevel == "STUDY"
    assert len(raw) % 2 == 0


def test_synthetic_object_is_labelled_and_holds_no_patient() -> None:
    sop, data = synthetic_object(uids.EXPLICIT_VR_LITTLE_ENDIAN)
    ds = read_dataset(DicomBytesIO(data), is_implicit_VR=False, is_little_endian=True)  # a bare data set, as sent
    assert ds.SOPInstanceUID == sop and sop.startswith("2.25.")
    assert ds.SOPClassUID == uids.SECONDARY_CAPTURE_IMAGE_STORAGE
    assert ds.PatientID == "RADGUARD-TEST-NOT-A-PATIENT" and ds.StudyDescription == TEST_OBJECT_LABEL
    assert (ds.Rows, ds.Columns, len(ds.PixelData)) == (8, 8, 64)
    assert fresh_uid() != fresh_uid()


def _probes_with_reconnect(script: Script) -> tuple[dict[str, str], int]:
    """probe_services with a reconnect that associates again (as the scanner's does); (verdicts, reconnects)."""
    import asyncio

    from radguard.assess.dicom_client import DicomClient
    from radguard.assess.probes.dicom_access import build_request, probe_access
    from radguard.assess.probes.dicom_services import probe_services

    reconnects = 0

    async def go() -> dict[str, str]:
        nonlocal reconnects
        server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        async def connect() -> DicomClient:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            return DicomClient(r, w, timeout=2.0)

        async def reconnect() -> DicomClient | None:
            nonlocal reconnects
            reconnects += 1
            fresh = await connect()
            await fresh.associate(build_request("ANY", "RG"))
            return fresh

        async with server:
            access = await probe_access(connect)
            assert access.client is not None
            services = await probe_services(access.client, access, intrusive=False, reconnect=reconnect)
            return {k: v["verdict"] for k, v in services.to_dict().items()}

    return asyncio.run(go()), reconnects


def test_an_abort_reconnects_only_when_a_later_probe_needs_an_association() -> None:
    """After an A-ABORT the next offered probe runs on a fresh association; after the last one, or when the
    rest is not offered, no association is opened just to be released (it would add nothing)."""
    assert _probes_with_reconnect(archive(abort_on=CommandField.C_FIND_RQ)) == (
        {"echo": "open", "query": "refused", "move": "open", "get": "open"}, 1)
    assert _probes_with_reconnect(archive(abort_on=CommandField.C_GET_RQ)) == (
        {"echo": "open", "query": "open", "move": "open", "get": "refused"}, 0)
    find_only = archive(abort_on=CommandField.C_FIND_RQ)
    find_only.offers = frozenset({uids.VERIFICATION, uids.STUDY_ROOT_QR_FIND})
    assert _probes_with_reconnect(find_only) == (
        {"echo": "open", "query": "refused", "move": "not-offered", "get": "not-offered"}, 0)


def test_a_message_goes_out_in_one_write() -> None:
    """The command and data set PDUs of a C-FIND leave in one socket write (one wake-up of the peer), and the
    peer reads them as the two P-DATA-TF PDUs they are."""
    import asyncio

    from radguard.assess.probes.dicom_access import probe_access
    from radguard.dicom.dimse import c_find_rq

    script = archive()

    ident = encode_identifier({"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": fresh_uid()}, None)

    async def go() -> tuple[list[bytes], int | None]:
        async with serving(script) as connect:
            access = await probe_access(connect)
            client = access.client
            assert client is not None
            writes: list[bytes] = []
            real = client.writer.write

            def write(data: bytes) -> None:
                writes.append(bytes(data))
                real(data)

            client.writer.write = write  # type: ignore[method-assign]
            ctx = access.context_ids[uids.STUDY_ROOT_QR_FIND]
            rsp = await client.request(ctx, c_find_rq(client.next_message_id(), uids.STUDY_ROOT_QR_FIND), ident)
            await client.release()
            await client.close()
            return writes, rsp.status

    writes, status = asyncio.run(go())
    assert status == Status.SUCCESS
    assert len(writes[0]) > len(writes[-1]) and writes[0][0] == 0x04  # the C-FIND: one write, P-DATA-TF PDUs
    first_len = int.from_bytes(writes[0][2:6], "big")
    assert writes[0][6 + first_len] == 0x04  # a second P-DATA-TF (the identifier) follows in the same write
    assert len(writes) == 2  # the C-FIND, then the A-RELEASE-RQ
    assert [m.command.command_field for m in script.requests] == [CommandField.C_FIND_RQ]
    assert script.requests[0].dataset == ident
