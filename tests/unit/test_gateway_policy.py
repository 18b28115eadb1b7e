"""Gateway policy addons, pure: allowlist, operations, move destinations, rate limit, fail-closed engine,
inspection mapping, the audit observer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from radguard.audittrail.trail import AuditTrail
from radguard.dicom.dimse import c_echo_rq, c_find_rq, c_move_rq, c_store_rq
from radguard.dicom.enums import (
    RejectReason,
    RejectReasonPresentation,
    RejectResult,
    RejectSource,
    Status,
)
from radguard.gateway.addons.allowlist import Allowlist, host_allowed
from radguard.gateway.addons.audit import GatewayAudit
from radguard.gateway.addons.inspection import Inspection, kind_of
from radguard.gateway.addons.move_destinations import MoveDestinations
from radguard.gateway.addons.operations import Operations
from radguard.gateway.addons.rate_limit import RateLimit
from radguard.gateway.config import GatewayConfig, InspectAction, InspectionConfig, parse_config
from radguard.gateway.policy import AssociationInfo, Containment, Decision, Direction, PolicyEngine
from radguard.models import Finding, Severity

CT = "1.2.840.10008.5.1.4.1.1.2"
FIND = "1.2.840.10008.5.1.4.1.2.2.1"
MOVE = "1.2.840.10008.5.1.4.1.2.2.2"


def _config(tmp: Path, per_minute: int = 120) -> GatewayConfig:
    return parse_config({
        "gateway": {"listen": "127.0.0.1:0", "upstream": "127.0.0.1:4242", "upstream_ae": "ORTHANC",
                    "ae_title": "RADGUARD", "control": str(tmp / "c.sock")},
        "peer": [
            {"ae": "CT01", "hosts": ["127.0.0.1"], "allow": ["C-ECHO", "C-STORE"]},
            {"ae": "WS01", "hosts": ["10.1.0.7", "10.1.0.0/16"], "port": 11113,
             "allow": ["C-ECHO", "C-FIND", "C-MOVE", "C-GET"], "move_destinations": ["WS01"]},
        ],
        "limits": {"associations_per_minute": per_minute},
    }, tmp)


@dataclass
class Ctx:
    config: GatewayConfig
    containment: Containment = field(default_factory=Containment)


def _assoc(calling: str, host: str = "127.0.0.1", called: str = "RADGUARD") -> AssociationInfo:
    return AssociationInfo(id=1, calling_ae=calling, called_ae=called, client_host=host, client_port=1234)


def _reject(d: Decision) -> tuple[int, int, int] | None:
    return None if d.reject is None else (int(d.reject.result), int(d.reject.source), int(d.reject.reason))


PERM_USER_3 = (RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER, RejectReason.CALLING_AE_NOT_RECOGNIZED)
PERM_USER_7 = (RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER, RejectReason.CALLED_AE_NOT_RECOGNIZED)


def test_allowlist(tmp_path: Path) -> None:
    ctx = Ctx(_config(tmp_path))
    a = Allowlist(ctx)
    ok = _assoc("CT01")
    assert a.on_associate(ok).allowed and ok.target == ("127.0.0.1", 4242) and ok.target_ae == "ORTHANC"
    assert _reject(a.on_associate(_assoc("EVIL"))) == PERM_USER_3
    assert _reject(a.on_associate(_assoc("CT01", host="10.0.0.9"))) == PERM_USER_3
    assert _reject(a.on_associate(_assoc("CT01", called="PACS"))) == PERM_USER_7
    assert a.on_associate(_assoc("WS01", host="10.1.2.3")).allowed  # CIDR
    # C-MOVE sub-operations: upstream calling a peer's AE through the gateway
    sub = _assoc("ORTHANC", called="WS01")
    assert a.on_associate(sub).allowed
    assert sub.direction is Direction.SUBOPERATION and sub.target == ("10.1.0.7", 11113)
    assert _reject(a.on_associate(_assoc("CT01", called="WS01"))) == PERM_USER_3
    assert _reject(a.on_associate(_assoc("ORTHANC", called="CT01"))) == PERM_USER_7  # CT01 has no port
    ctx.containment.peers.add("CT01")
    assert _reject(a.on_associate(_assoc("CT01"))) == PERM_USER_3
    ctx.containment.downtime = True
    assert _reject(a.on_associate(_assoc("WS01", host="10.1.0.1"))) == (
        RejectResult.REJECTED_TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION,
        RejectReasonPresentation.TEMPORARY_CONGESTION)


def test_host_allowed() -> None:
    assert host_allowed("127.0.0.1", ("127.0.0.1",))
    assert host_allowed("::ffff:10.0.0.1", ("10.0.0.0/8",))
    assert not host_allowed("10.0.0.1", ("10.0.0.2",))
    assert not host_allowed("not-an-ip", ("127.0.0.1",))


def test_operations_and_read_only(tmp_path: Path) -> None:
    ctx = Ctx(_config(tmp_path))
    ops = Operations(ctx)
    ct = _assoc("CT01")
    Allowlist(ctx).on_associate(ct)
    assert ops.on_request(ct, c_echo_rq(1)).allowed
    assert ops.on_request(ct, c_store_rq(2, CT, "1.2.3")).allowed
    refused = ops.on_request(ct, c_find_rq(3, FIND))
    assert not refused.allowed and refused.status == Status.NOT_AUTHORIZED
    ctx.containment.read_only_peers.add("CT01")
    assert ops.on_request(ct, c_store_rq(4, CT, "1.2.3")).status == Status.NOT_AUTHORIZED
    assert ops.on_request(ct, c_echo_rq(5)).allowed
    sub = _assoc("ORTHANC", called="WS01")
    Allowlist(ctx).on_associate(sub)
    assert ops.on_request(sub, c_store_rq(1, CT, "1.2.3")).allowed
    assert not ops.on_request(sub, c_find_rq(2, FIND)).allowed


def test_move_destinations(tmp_path: Path) -> None:
    ctx = Ctx(_config(tmp_path))
    ws = _assoc("WS01", host="10.1.0.5")
    Allowlist(ctx).on_associate(ws)
    md = MoveDestinations(ctx)
    assert md.on_request(ws, c_move_rq(1, MOVE, "WS01")).allowed
    bad = md.on_request(ws, c_move_rq(2, MOVE, "EVIL"))
    assert not bad.allowed and bad.status == Status.MOVE_DESTINATION_UNKNOWN
    assert md.on_request(ws, c_echo_rq(3)).allowed


def test_rate_limit(tmp_path: Path) -> None:
    now = [1000.0]
    ctx = Ctx(_config(tmp_path, per_minute=2))
    rl = RateLimit(ctx, lambda: 0, clock=lambda: now[0])
    ct = _assoc("CT01")
    Allowlist(ctx).on_associate(ct)
    assert rl.on_associate(ct).allowed and rl.on_associate(ct).allowed
    over = rl.on_associate(ct)
    assert _reject(over) == (RejectResult.REJECTED_TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION,
                             RejectReasonPresentation.LOCAL_LIMIT_EXCEEDED)
    now[0] += 60.0
    assert rl.on_associate(ct).allowed


def test_engine_fails_closed(tmp_path: Path) -> None:
    class Broken:
        name = "broken"

        def on_request(self, assoc: AssociationInfo, command: object) -> Decision:
            raise RuntimeError("bug")

    class Sloppy:
        name = "sloppy"

        def on_associate(self, assoc: AssociationInfo) -> object:
            return True

    engine = PolicyEngine([Broken(), Sloppy()])
    d = engine.on_request(_assoc("CT01"), c_echo_rq(1))
    assert not d.allowed and d.addon == "broken" and d.status == Status.PROCESSING_FAILURE
    d2 = engine.on_associate(_assoc("CT01"))
    assert not d2.allowed and d2.addon == "sloppy" and _reject(d2) == (1, 1, 1)


def _finding(rule: str) -> Finding:
    return Finding(rule=rule, severity=Severity.HIGH, title=rule, target="t")


def test_inspection_actions(tmp_path: Path) -> None:
    cfg = InspectionConfig(quarantine=tmp_path / "q")
    found: list[Finding] = []
    insp = Inspection(lambda: cfg, checker=lambda data, ts, target: list(found))
    assert insp.inspect(b"x", "1.2.840.10008.1.2", "t").action is InspectAction.PASS
    found[:] = [_finding("malformed")]
    assert insp.inspect(b"x", "1.2.840.10008.1.2", "t").action is InspectAction.ALERT
    found.append(_finding("active-content"))
    res = insp.inspect(b"x", "1.2.840.10008.1.2", "t")
    assert res.action is InspectAction.REJECT and not res.forward
    assert kind_of("executable-preamble") == "executable" and kind_of("trailing-data") == "malformed"
    assert kind_of("trailing-data", {"kind": "pe"}) == "executable"
    assert kind_of("trailing-data", {"kind": "zip"}) == "executable"
    assert kind_of("trailing-data", {"kind": "other"}) == "malformed"
    crash = Inspection(lambda: cfg, checker=lambda data, ts, target: 1 / 0)  # type: ignore[arg-type,return-value]
    assert crash.inspect(b"x", "1.2.840.10008.1.2", "t").action is InspectAction.REJECT
    path = insp.quarantine(b"DATA", "1.2.3/../x", {"calling_ae": "CT01"})
    assert path.parent == tmp_path / "q" and path.read_bytes() == b"DATA" and path.with_suffix(".json").exists()


def test_audit_observer_never_raises(tmp_path: Path) -> None:
    trail = AuditTrail(jsonl=tmp_path / "a.jsonl")
    audit = GatewayAudit(trail, lambda: "RADGUARD", lambda: ("ORTHANC", "127.0.0.1"))
    bad = _assoc("CT01")
    bad.calling_ae = None  # type: ignore[assignment]
    audit.association(bad, accepted=True)  # logged, not raised
    audit.stored(_assoc("CT01"), patient_id="P1", study_uid="1.2", sop_class=CT, status=0)
    assert trail.flush()
    trail.close()
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert len(lines) >= 1 and '"110104"' in lines[-1] and "P1" not in lines[-1]


@pytest.mark.parametrize("status,outcome", [(0x0000, "0"), (0xB000, "0"), (0x0124, "4"), (None, "8")])
def test_outcome_of(status: int | None, outcome: str) -> None:
    from radguard.gateway.addons.audit import outcome_of

    assert outcome_of(status).value == outcome


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
