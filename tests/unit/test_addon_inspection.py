"""Inspection addon: the ``on_store`` decision hook on C-STORE data sets (fails closed), the action per kind
of finding (``[inspection]``), quarantine, and one parse giving both the findings and the audit identifiers."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path

import pytest

from radguard.dicom.dimse import c_store_rq
from radguard.gateway.addons.inspection import Inspection, kind_of
from radguard.gateway.config import InspectAction, InspectionConfig
from radguard.gateway.dataset import identifiers, identifiers_from
from radguard.gateway.policy import PolicyEngine, StoreData, StoreVerdict
from radguard.inspect.api import inspect_dataset, inspect_dataset_parsed
from radguard.models import Finding, Severity
from tests.support.gateway_addons import CT, assoc

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"


def _finding(rule: str, **evidence: object) -> Finding:
    return Finding(rule=rule, severity=Severity.HIGH, title=rule, target="t", evidence=evidence)


def _store(data: bytes = b"x", ts: str = IMPLICIT) -> StoreData:
    return StoreData(data, ts, "CT01@127.0.0.1:1.2.3", c_store_rq(1, CT, "1.2.3"))


def _bare_ct(implicit: bool) -> tuple[bytes, tuple[str, str]]:
    """CT_small as a bare data set (as C-STORE carries it) and its (Patient ID, Study Instance UID)."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = dcmread(get_testdata_file("CT_small.dcm"))  # type: ignore[arg-type]
    buf = DicomBytesIO()
    buf.is_little_endian, buf.is_implicit_VR = True, implicit
    write_dataset(buf, ds)
    return buf.getvalue(), (str(ds.PatientID), str(ds.StudyInstanceUID))


def test_action_is_the_strongest_of_the_findings(tmp_path: Path) -> None:
    cfg = InspectionConfig(malformed=InspectAction.ALERT, quarantine=tmp_path / "q")
    found: list[Finding] = []
    insp = Inspection(lambda: cfg, checker=lambda data, ts, target: list(found))
    assert insp.on_store(assoc("CT01"), _store()).action is InspectAction.PASS
    found[:] = [_finding("malformed")]
    alert = insp.on_store(assoc("CT01"), _store())
    assert alert.action is InspectAction.ALERT and alert.forward and alert.findings == tuple(found)
    found.append(_finding("active-content"))
    res = insp.on_store(assoc("CT01"), _store())
    assert res.action is InspectAction.REJECT and not res.forward and res.addon == "inspection"
    assert res.identifiers is None  # a replacement checker does not parse: the relay reads them itself


def test_kind_of_a_finding() -> None:
    assert kind_of("executable-preamble") == "executable"
    assert kind_of("trailing-data") == "malformed"
    assert kind_of("trailing-data", {"kind": "pe"}) == "executable"
    assert kind_of("trailing-data", {"kind": "zip"}) == "executable"
    assert kind_of("trailing-data", {"kind": "other"}) == "malformed"
    assert kind_of("active-content") == "active_content" and kind_of("not-dicom") == "malformed"
    assert kind_of("something-new") == "other"


def test_configured_actions_per_kind(tmp_path: Path) -> None:
    cfg = InspectionConfig(malformed=InspectAction.QUARANTINE, executable=InspectAction.ALERT,
                           quarantine=tmp_path / "q")
    insp = Inspection(lambda: cfg)
    assert insp.action_for([_finding("malformed")]) is InspectAction.QUARANTINE
    assert insp.action_for([_finding("trailing-data", kind="elf")]) is InspectAction.ALERT
    assert insp.action_for([_finding("malformed"), _finding("active-content")]) is InspectAction.REJECT
    assert insp.action_for([]) is InspectAction.PASS


def test_disabled_inspection_holds_nothing(tmp_path: Path) -> None:
    cfg = [InspectionConfig(quarantine=tmp_path / "q")]
    insp = Inspection(lambda: cfg[0], checker=lambda data, ts, target: [_finding("active-content")])
    engine = PolicyEngine([insp])
    assert insp.active and engine.holds_stores()
    cfg[0] = dataclasses.replace(cfg[0], enabled=False)  # as after a SIGHUP reload
    assert not insp.active and not engine.holds_stores()
    assert insp.on_store(assoc("CT01"), _store()).action is InspectAction.PASS


def test_the_engine_fails_closed_on_a_crashing_hook(tmp_path: Path) -> None:
    cfg = InspectionConfig(quarantine=tmp_path / "q")
    crash = Inspection(lambda: cfg, checker=lambda data, ts, target: 1 / 0)  # type: ignore[arg-type,return-value]
    with pytest.raises(ZeroDivisionError):  # the hook itself does not hide it ...
        crash.on_store(assoc("CT01"), _store())
    verdict = PolicyEngine([crash]).on_store(assoc("CT01"), _store())  # ... the engine rejects
    assert verdict.action is InspectAction.REJECT and verdict.error == "ZeroDivisionError"
    assert verdict.addon == "inspection" and not verdict.forward

    class Sloppy:
        name = "sloppy"

        def on_store(self, assoc: object, store: StoreData) -> object:
            return True

    assert PolicyEngine([Sloppy()]).on_store(assoc("CT01"), _store()).action is InspectAction.REJECT


def test_the_engine_combines_hooks(tmp_path: Path) -> None:
    class Fixed:
        def __init__(self, name: str, verdict: StoreVerdict) -> None:
            self.name, self.verdict = name, verdict

        def on_store(self, assoc: object, store: StoreData) -> StoreVerdict:
            return self.verdict

    alert = Fixed("a", StoreVerdict(InspectAction.ALERT, (_finding("malformed"),), identifiers=("P", "1.2")))
    quarantine = Fixed("q", StoreVerdict(InspectAction.QUARANTINE, (_finding("other"),)))
    never = Fixed("never", StoreVerdict(InspectAction.PASS))
    v = PolicyEngine([alert, quarantine, never]).on_store(assoc("CT01"), _store())
    assert v.action is InspectAction.QUARANTINE and v.addon == "q" and len(v.findings) == 2
    assert v.identifiers == ("P", "1.2")


@pytest.mark.parametrize("implicit", [True, False])
def test_one_parse_gives_findings_and_identifiers(tmp_path: Path, implicit: bool) -> None:
    data, expected = _bare_ct(implicit)
    ts = IMPLICIT if implicit else EXPLICIT
    findings, obj = inspect_dataset_parsed(data, ts, "t")
    assert findings == inspect_dataset(data, ts, "t")
    assert identifiers_from(obj.part10) == expected == identifiers(data, ts)
    insp = Inspection(lambda: InspectionConfig(quarantine=tmp_path / "q"))  # the shared checks
    verdict = insp.on_store(assoc("CT01"), _store(data, ts))
    assert verdict.forward and verdict.identifiers == expected


def test_quarantine_keeps_data_and_sidecar_owner_only(tmp_path: Path) -> None:
    insp = Inspection(lambda: InspectionConfig(quarantine=tmp_path / "q"))
    path = insp.quarantine(b"DATA", "1.2.3/../x", {"calling_ae": "CT01"})
    assert path.parent == tmp_path / "q" and path.read_bytes() == b"DATA"
    assert json.loads(path.with_suffix(".json").read_text()) == {"calling_ae": "CT01"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = insp.quarantine(b"MORE", "1.2.3/../x", {})
    assert again != path and again.read_bytes() == b"MORE"  # never overwrites
