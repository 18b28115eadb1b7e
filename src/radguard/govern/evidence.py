"""Which controls a run tested: the rules of every producer and the run kinds that apply them.

A run gives *positive* evidence for a control only when it applied a rule that maps to the control
and that rule left no finding. :func:`rule_controls` is the one adapter to the rule catalogue
(rule id, producer, producers using it, monitor profile, controls); everything else in
:mod:`radguard.govern` goes through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from radguard.store import RunInfo


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleRef:
    """A rule as governance sees it: who applies it and which controls it gives evidence for."""

    id: str
    producer: str
    used_by: tuple[str, ...]
    profile: str | None
    controls: tuple[str, ...]
    title: str = ""
    remediation: str = ""


@cache
def rule_controls() -> tuple[RuleRef, ...]:
    """(rule id, producer, controls, remediation) of every rule of every producer, from :mod:`radguard.rulebook`."""
    from radguard import rulebook

    return tuple(
        RuleRef(id=e.id, producer=e.producer.value, used_by=tuple(p.value for p in e.used_by) or (e.producer.value,),
                profile=e.profile, controls=tuple(e.rule.controls), title=e.rule.title,
                remediation=e.rule.remediation)
        for e in rulebook.entries()
    )


#: run kind -> the producer whose rules it applies
KIND_PRODUCER: Mapping[str, str] = {
    "scan": "scan",
    "seal": "archive",
    "audit": "archive",
    "recover": "archive",
    "gateway": "gateway",
    "pcap": "monitor",
    "monitor": "monitor",
    "decoy": "decoy",
}
#: archive rules that compare against the sealed ledger: an audit applies them, a seal does not
LEDGER_RULES: frozenset[str] = frozenset({
    "header-tampered", "pixel-tampered", "transcoded", "missing", "unexpected", "ransomware-burst",
    "canary-touched", "ledger-invalid",
})
#: run kinds that apply only these rules
KIND_ONLY: Mapping[str, frozenset[str]] = {"recover": frozenset({"unrecoverable"})}
#: scan rules applied only with ``--intrusive``
INTRUSIVE_RULES: frozenset[str] = frozenset({"dicom-open-store", "web-default-credentials"})
#: monitor profile -> detection profiles it runs (``radguard.monitor.detections.PROFILES``)
MONITOR_PROFILES: Mapping[str, frozenset[str]] = {
    "default": frozenset({"default"}),
    "all": frozenset({"default", "baseline"}),
    "none": frozenset(),
}


def _applies(rule: RuleRef, kind: str, params: Mapping[str, Any]) -> bool:
    producer = KIND_PRODUCER.get(kind)
    if producer is None or (producer != rule.producer and producer not in rule.used_by):
        return False
    if kind in KIND_ONLY:
        return rule.id in KIND_ONLY[kind]
    if kind == "seal" and (rule.id in LEDGER_RULES or rule.id == "unrecoverable"):
        return False
    if kind == "audit" and rule.id == "unrecoverable":
        return False
    if kind == "scan" and rule.id in INTRUSIVE_RULES and not params.get("intrusive"):
        return False
    if producer == "monitor":
        profile = params.get("profile", "default")
        if isinstance(profile, list):
            return rule.id in profile
        return (rule.profile or "default") in MONITOR_PROFILES.get(str(profile), frozenset())
    return True


def rules_tested_by(run: RunInfo) -> tuple[RuleRef, ...]:
    """The rules a finished run applied (none for a failed run or a kind no producer owns)."""
    if run.finished is None or run.status == "failed":
        return ()
    return tuple(r for r in rule_controls() if _applies(r, run.kind, run.params))


def controls_tested_by(run: RunInfo) -> dict[str, tuple[str, ...]]:
    """Control ref -> ids of the rules of ``run`` that map to it."""
    out: dict[str, list[str]] = {}
    for rule in rules_tested_by(run):
        for ref in rule.controls:
            out.setdefault(ref, []).append(rule.id)
    return {ref: tuple(ids) for ref, ids in out.items()}
