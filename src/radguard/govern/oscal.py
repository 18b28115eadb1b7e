"""OSCAL assessment results and plan of action and milestones, built with compliance-trestle's models.

The models validate as they are built (pydantic, OSCAL 1.x constraints: uuid versions, token patterns,
required fields), so what radguard writes is what the OSCAL schema accepts. Control ids become OSCAL
tokens (``hipaa:164.312(e)(1)`` -> ``hipaa-164.312_e_1``); each control with evidence is one finding
with one observation (method ``TEST`` for runs and findings, ``INTERVIEW`` for answers); risks carry
their SP 800-30 likelihood and impact as characterization facets. UUIDs of findings, observations and
risks are version 5, derived from their keys, so two exports of the same state agree.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from radguard import __version__
from radguard.govern.plan import PlanItem
from radguard.govern.questions import State
from radguard.govern.risk import Risk, Treatment, TreatmentStatus
from radguard.govern.status import ControlStatus, GovernStatus

#: namespace of radguard's OSCAL props and of its version-5 UUIDs
NS = "urn:radguard:oscal"
_UUID_NS = uuid.uuid5(uuid.NAMESPACE_URL, NS)
#: the SP 800-30 scales named by risk characterization facets
SP800_30 = "https://doi.org/10.6028/NIST.SP.800-30r1"


def token(ref: str) -> str:
    """A control ref as an OSCAL token (letters, digits, ``.``, ``-``, ``_``; starts with a letter)."""
    out = ref.replace(":", "-").replace(")(", "_").replace("(", "_").replace(")", "")
    return re.sub(r"[^A-Za-z0-9._-]", "_", out)


def _models() -> Any:
    """trestle's OSCAL model modules (imported on first use: ~0.7 s), typed loosely: their pydantic aliases
    (``last-modified``) are not visible to mypy without trestle's plugin."""
    from types import SimpleNamespace

    import trestle.oscal as base
    from trestle.oscal import assessment_results, common, poam

    return SimpleNamespace(version=base.OSCAL_VERSION, ar=assessment_results, common=common, poam=poam)


def _uuid(key: str) -> str:
    return str(uuid.uuid5(_UUID_NS, key))


def _metadata(title: str, now: datetime) -> Any:
    m = _models()

    return m.common.Metadata(title=title, last_modified=now, version=__version__, oscal_version=m.version)


def _observation(c: ControlStatus) -> Any:
    m = _models()

    methods = sorted({{"answer": "INTERVIEW", "training": "EXAMINE"}.get(e.kind, "TEST") for e in c.evidence})
    return m.ar.Observation(uuid=_uuid("observation:" + c.ref), title=f"Evidence for {c.ref}",
                       description="\n".join(e.text for e in c.evidence), methods=methods,
                       collected=max(e.date for e in c.evidence))


def _finding(c: ControlStatus) -> Any:
    m = _models()

    met = c.state is State.MET
    status = m.common.ObjectiveStatus(state="satisfied" if met else "not-satisfied",
                             reason="pass" if met else "fail" if c.state is State.NOT_MET else "other",
                             remarks=f"radguard state: {c.state.value}" + (" (stale evidence)" if c.stale else ""))
    target = m.common.FindingTarget(type="objective-id", target_id=token(c.ref), title=c.title, status=status)
    related = [m.ar.RelatedObservation(observation_uuid=_uuid("observation:" + c.ref))] if c.evidence else None
    return m.common.Finding(uuid=_uuid("finding:" + c.ref), title=f"{c.ref} {c.title}",
                   description=f"{c.title}: {c.state.label}.", target=target, related_observations=related)


_RISK_STATUS = {TreatmentStatus.OPEN: "open", TreatmentStatus.IN_PROGRESS: "remediating",
                TreatmentStatus.DONE: "closed"}


def _risk(r: Risk) -> Any:
    m = _models()

    origin = m.common.Origin(actors=[m.common.OriginActor(type="tool", actor_uuid=_uuid("tool:radguard"))])
    facets = [m.common.Facet(name="likelihood", system=SP800_30, value=r.likelihood.label),
              m.common.Facet(name="impact", system=SP800_30, value=r.impact.label),
              m.common.Facet(name="risk", system=SP800_30, value=r.inherent.label)]
    residual = [m.common.Facet(name="likelihood", system=SP800_30, value=r.residual_likelihood.label),
                m.common.Facet(name="impact", system=SP800_30, value=r.residual_impact.label),
                m.common.Facet(name="risk", system=SP800_30, value=r.residual.label)]
    status = "deviation-approved" if r.treatment is Treatment.ACCEPT else _RISK_STATUS[r.status]
    remediations = None
    if r.treatment is not Treatment.NONE:
        remediations = [m.common.Response(uuid=_uuid("response:" + r.key),
                                 lifecycle="completed" if r.status is TreatmentStatus.DONE else "planned",
                                 title=r.treatment.value, description=r.note or r.treatment.value)]
    return m.common.Risk(uuid=_uuid("risk:" + r.key), title=f"{r.threat.title} ({r.asset})",
                     description=r.threat.why, statement="; ".join(r.evidence) or "no current evidence",
                     status=status, characterizations=[m.common.Characterization(origin=origin, facets=facets),
                                                       m.common.Characterization(origin=origin, facets=residual)],
                     deadline=datetime.combine(r.due, datetime.min.time()).astimezone() if r.due else None,
                     remediations=remediations)


def assessment_results(st: GovernStatus, risks: Sequence[Risk], *, site: str) -> Any:
    """An OSCAL ``AssessmentResults``: one result, a finding and an observation per control with evidence."""
    m = _models()

    covered = [c for c in st.controls if c.evidence or c.state is not State.UNKNOWN]
    with_evidence = [c for c in covered if c.evidence]
    starts = [e.date for c in with_evidence for e in c.evidence]
    result = m.ar.Result(
        uuid=str(uuid.uuid4()), title=f"radguard governance assessment of {site}",
        description="Control status from the evidence in the radguard store (runs, findings, self-assessment "
                    f"answers) for {', '.join(st.frameworks)}.",
        start=min(starts, default=st.generated), end=st.generated,
        reviewed_controls=m.common.ReviewedControls(control_selections=[m.common.ControlSelection(include_all=m.common.IncludeAll())]),
        observations=[_observation(c) for c in with_evidence] or None,
        findings=[_finding(c) for c in covered] or None,
        risks=[_risk(r) for r in risks if r.current] or None,
    )
    meta = _metadata(f"Assessment results: {site}", st.generated)
    return m.ar.AssessmentResults(uuid=str(uuid.uuid4()), metadata=meta,
                             import_ap=m.ar.ImportAp(href="#radguard-self-assessment",
                                                remarks="radguard has no separate assessment plan: the plan is "
                                                        "its rules and the self-assessment template"),
                             results=[result])


def poam(st: GovernStatus, risks: Sequence[Risk], items: Sequence[PlanItem], *, site: str) -> Any:
    """An OSCAL ``PlanOfActionAndMilestones``: one item per plan item, linked to its finding or risk."""
    m = _models()

    by_ref = {c.ref: c for c in st.controls}
    by_id = {r.id: r for r in risks}
    findings = [_finding(by_ref[i.ref]) for i in items if i.kind == "control"]
    observations = [_observation(by_ref[i.ref]) for i in items if i.kind == "control"]
    oscal_risks = [_risk(by_id[i.ref]) for i in items if i.kind == "risk"]
    poam_items = []
    for it in items:
        props = [m.common.Property(name="severity", ns=NS, value=it.severity),
                 m.common.Property(name="status", ns=NS, value=it.status)]
        if it.owner:
            props.append(m.common.Property(name="owner", ns=NS, value=it.owner))
        if it.due:
            props.append(m.common.Property(name="due", ns=NS, value=it.due.isoformat()))
        if it.kind == "control":
            key = "finding:" + it.ref
        elif it.kind == "risk":
            key = "risk:" + by_id[it.ref].key
        else:  # a corrective action of an exercise: its scenario and action name it
            key = f"{it.kind}:{it.ref}:{it.action}"
        poam_items.append(m.poam.PoamItem(
            uuid=_uuid("poam-item:" + key), title=f"{it.id} {it.title}", description=it.action,
            props=props, remarks=it.weakness or None,
            related_findings=[m.poam.RelatedFinding(finding_uuid=_uuid(key))] if it.kind == "control" else None,
            related_risks=[m.common.AssociatedRisk(risk_uuid=_uuid(key))] if it.kind == "risk" else None))
    return m.poam.PlanOfActionAndMilestones(
        uuid=str(uuid.uuid4()), metadata=_metadata(f"Plan of action and milestones: {site}", st.generated),
        system_id=None, observations=observations or None, findings=findings or None, risks=oscal_risks or None,
        poam_items=poam_items or [m.poam.PoamItem(title="Nothing to do", description="No control is not met and no "
                                                                              "risk is moderate or worse.")])


def to_json(model: Any) -> str:
    """The document as OSCAL JSON (wrapped in its root key, e.g. ``{"assessment-results": ...}``)."""
    text: str = model.oscal_serialize_json(pretty=True)
    return text
