"""The policy engine (decision hooks fail closed) and small relay pieces. Each addon has its own file:
``tests/unit/test_addon_<name>.py``."""

from __future__ import annotations

from radguard.dicom.dimse import c_echo_rq
from radguard.dicom.enums import Status
from radguard.gateway.policy import AssociationInfo, Decision, PolicyEngine
from tests.support.gateway_addons import assoc, reject


def test_engine_fails_closed() -> None:
    class Broken:
        name = "broken"

        def on_request(self, assoc: AssociationInfo, command: object) -> Decision:
            raise RuntimeError("bug")

    class Sloppy:
        name = "sloppy"

        def on_associate(self, assoc: AssociationInfo) -> object:
            return True

    engine = PolicyEngine([Broken(), Sloppy()])
    d = engine.on_request(assoc("CT01"), c_echo_rq(1))
    assert not d.allowed and d.addon == "broken" and d.status == Status.PROCESSING_FAILURE
    d2 = engine.on_associate(assoc("CT01"))
    assert not d2.allowed and d2.addon == "sloppy" and reject(d2) == (1, 1, 1)
    assert not engine.holds_stores()  # no on_store hook: C-STORE data sets stream through


def test_first_deny_wins_and_names_its_addon() -> None:
    class Allow:
        name = "allow"

        def on_request(self, assoc: AssociationInfo, command: object) -> Decision:
            return Decision.allow()

    class Deny:
        name = "deny"

        def on_request(self, assoc: AssociationInfo, command: object) -> Decision:
            return Decision(allowed=False, reason="no")

    d = PolicyEngine([Allow(), Deny(), Deny()]).on_request(assoc("CT01"), c_echo_rq(1))
    assert not d.allowed and d.addon == "deny" and d.status == Status.NOT_AUTHORIZED and d.reject is not None
    assert PolicyEngine([Allow()]).on_request(assoc("CT01"), c_echo_rq(1)).allowed


def test_pdvs_refragment_to_the_receivers_maximum() -> None:
    from radguard.dicom.pdu import decode_pdata
    from radguard.gateway.pieces import pdvs

    data = bytes(range(256)) * 100  # 25,600 bytes
    out = pdvs(3, data, True, 16384)
    assert [len(p) for p in out] == [16384 + 6, 25600 - 16378 + 12]
    pd = [decode_pdata(p[6:]).pdvs[0] for p in out]
    assert b"".join(p.data for p in pd) == data and [p.is_last for p in pd] == [False, True]
    assert all(p.context_id == 3 and not p.is_command for p in pd)
    assert len(pdvs(3, data, False, 0)) == 1  # 0 = unlimited


def test_identifiers_fast_path_matches_pydicom() -> None:
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    from radguard.gateway.dataset import _walk, identifiers

    ds = dcmread(get_testdata_file("CT_small.dcm"))  # type: ignore[arg-type]
    for implicit, ts in ((True, "1.2.840.10008.1.2"), (False, "1.2.840.10008.1.2.1")):
        buf = DicomBytesIO()
        buf.is_little_endian, buf.is_implicit_VR = True, implicit
        write_dataset(buf, ds)
        expected = (str(ds.PatientID), str(ds.StudyInstanceUID))
        assert _walk(buf.getvalue(), implicit) == expected
        assert identifiers(buf.getvalue(), ts) == expected
    assert identifiers(b"\x01\x02", "1.2.840.10008.1.2.1") == ("", "")
