"""The ``dicom_access`` probe against a scripted in-process acceptor (radguard's own UpperLayer): the
association-attempt sequence (random titles, called-AE guesses, --called-ae, --calling-ae), reject-reason
handling, what the report records, and which findings the evaluation draws from it (PS3.8 §9.3.2-9.3.4)."""

from __future__ import annotations

from radguard.assess.evaluate import dicom_findings
from radguard.assess.probes.dicom_access import (
    MAX_CALLED_AE_GUESSES,
    PROPOSALS,
    Attempt,
    build_request,
    random_ae,
)
from radguard.assess.probes.dicom_services import Verdict
from radguard.dicom import uids
from radguard.dicom.enums import RejectReason
from tests.support.acceptor import Decide, Script, run_probes


def test_request_proposes_every_service_on_odd_context_ids() -> None:
    rq = build_request("PACS", "RGSCAN")
    assert [c.id for c in rq.contexts] == list(range(1, 2 * len(PROPOSALS), 2))  # PS3.8 §9.3.2.2: odd ids
    assert [c.abstract_syntax for c in rq.contexts] == [uid for _, uid in PROPOSALS]
    assert all(c.transfer_syntaxes == [uids.EXPLICIT_VR_LITTLE_ENDIAN, uids.IMPLICIT_VR_LITTLE_ENDIAN]
               for c in rq.contexts)
    titles = {random_ae() for _ in range(50)}
    assert len(titles) == 50 and all(len(t) == 16 and t.startswith("RG") for t in titles)  # PS3.5 AE: 16 chars


def test_attempts_hide_random_titles() -> None:
    a = Attempt(called_ae="RG0123", calling_ae="KNOWN", called_random=True, calling_random=False,
                outcome="rejected", detail={"reason": "called-ae-not-recognized"})
    assert a.to_dict() == {"called_ae": "<random>", "calling_ae": "KNOWN", "outcome": "rejected",
                           "reason": "called-ae-not-recognized"}


def test_accepts_anything() -> None:
    report, services = run_probes(Script())
    assert report.any_called and report.any_calling
    assert [a.outcome for a in report.attempts] == ["accepted"]
    assert report.services == {"verification": [uids.VERIFICATION]}
    assert report.implementation_version_name == "PYNETDICOM_200"
    assert services is not None and services.echo is not None and services.echo.verdict is Verdict.OPEN
    assert services.query is not None and services.query.verdict is Verdict.NOT_OFFERED
    rules = {f.rule for f in dicom_findings("h:1", False, report, services)}
    assert rules == {"dicom-any-called-ae", "dicom-any-calling-ae", "dicom-cleartext"}


def _called_check(title: str) -> Decide:
    return lambda called, calling: None if called == title else RejectReason.CALLED_AE_NOT_RECOGNIZED


def test_called_ae_checked_user_title() -> None:
    report, _ = run_probes(Script(decide=_called_check("MYPACS")), called_aes=("MYPACS",))
    assert [a.to_dict()["called_ae"] for a in report.attempts] == ["<random>", "MYPACS"]
    assert not report.any_called and report.any_calling
    rules = {f.rule for f in dicom_findings("h:1", True, report, None)}
    assert rules == {"dicom-any-calling-ae"}  # TLS endpoint: no cleartext finding


def test_called_ae_guessing_is_bounded() -> None:
    report, services = run_probes(Script(decide=_called_check("NOBODY-KNOWS")))
    assert len(report.attempts) == 1 + MAX_CALLED_AE_GUESSES
    assert {a.detail["reason"] for a in report.attempts} == {"called-ae-not-recognized"}
    assert report.client is None and services is None
    assert dicom_findings("h:1", False, report, None)[0].rule == "dicom-cleartext"  # only the transport
    # a common title is found by guessing
    report, _ = run_probes(Script(decide=_called_check("ORTHANC")))
    assert report.accepted_called_ae == "ORTHANC" and report.any_calling


def test_calling_ae_checked() -> None:
    def decide(called: str, calling: str) -> int | None:
        if called != "MYPACS":
            return RejectReason.CALLED_AE_NOT_RECOGNIZED
        return None if calling == "KNOWN" else RejectReason.CALLING_AE_NOT_RECOGNIZED

    report, services = run_probes(Script(decide=decide), called_aes=("MYPACS",), calling_ae="KNOWN")
    outcomes = [(a.to_dict()["calling_ae"], a.outcome, a.detail.get("reason")) for a in report.attempts]
    assert outcomes == [("<random>", "rejected", "called-ae-not-recognized"),
                        ("<random>", "rejected", "calling-ae-not-recognized"),
                        ("KNOWN", "accepted", None)]
    assert not report.any_calling and services is not None and services.echo is not None
    assert services.echo.verdict is Verdict.OPEN
    rules = {f.rule for f in dicom_findings("h:1", False, report, services)}
    assert rules == {"dicom-cleartext"}  # probes with a configured AE are facts, not findings


def test_any_other_reject_ends_the_guessing() -> None:
    report, _ = run_probes(Script(decide=lambda called, calling: RejectReason.NO_REASON))
    assert [a.outcome for a in report.attempts] == ["rejected"]
    assert report.attempts[0].detail == {"result": 1, "source": 1, "reason": "no-reason"}


def test_the_request_encodes_as_a_plain_a_associate_rq() -> None:
    """The probes' request reuses its encoded context items: the bytes are those of a plain AssociateRequest
    with the same fields, whatever the titles, and decode back to the same proposal."""
    import dataclasses

    from radguard.dicom.pdu import AssociateRequest, decode_pdu

    for called, calling in (("PACS", "RGSCAN"), (random_ae(), random_ae()), ("A", "B")):
        rq = build_request(called, calling)
        plain = AssociateRequest(**{f.name: getattr(rq, f.name) for f in dataclasses.fields(AssociateRequest)})
        assert rq.encode() == plain.encode()
        wire = rq.encode()
        back = decode_pdu(wire[0], wire[6:])
        assert isinstance(back, AssociateRequest) and back.called_ae == called and back.calling_ae == calling
        assert [(c.id, c.abstract_syntax, c.transfer_syntaxes) for c in back.contexts] == [
            (c.id, c.abstract_syntax, c.transfer_syntaxes) for c in rq.contexts]
