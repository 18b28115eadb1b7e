"""One catalogue of every rule every producer reports: ``radguard rules`` and ``docs/rules.md``.

DESIGN.md: "a finding always names: rule id, severity, target, evidence, remediation, and the
controls it maps to", each rule "documented in docs/rules.md". The producers keep their own rule
tables (scan: :data:`radguard.assess.rules.RULES`; archive: the :class:`radguard.inspect.rules.Rule`
objects of the check, audit, verify, inspect and recover modules; monitor: the ``RULE`` and
``Thresholds`` of each :mod:`radguard.monitor.detections` module). This module only reads them,
so a rule documented here is exactly the rule a finding carries. The gateway has no rules of its
own: it applies the archive's stateless checks to every C-STORE data set (its decisions and
alerts are PS3.15 A.5 audit events, see docs/gateway.md), so those rules list it in ``used_by``.

``python -m radguard.rules --markdown > docs/rules.md`` regenerates the documentation;
``--json`` prints the catalogue as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import importlib
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from radguard.models import Severity


class Producer(enum.StrEnum):
    """The parts of radguard that emit findings (or, for the gateway, apply another producer's rules)."""

    SCAN = "scan"
    ARCHIVE = "archive"
    MONITOR = "monitor"
    GATEWAY = "gateway"


@dataclass(frozen=True, kw_only=True, slots=True)
class Threshold:
    """One tunable value of a rule: its name, default and type name."""

    name: str
    default: Any
    type: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleInfo:
    """A rule as the catalogue shows it.

    ``producer`` owns the rule table; ``used_by`` lists every producer whose findings or
    decisions use the rule (the owner first). ``severity`` is the default: some rules raise or
    lower it per finding (``severity_note``). ``mitre`` holds MITRE ATT&CK (Enterprise/ICS)
    technique ids, for network detections. ``profile`` is the monitor profile that runs a detection.
    """

    id: str
    producer: Producer
    severity: Severity
    title: str
    remediation: str
    controls: tuple[str, ...]
    source: str
    description: str = ""
    severity_note: str = ""
    used_by: tuple[Producer, ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    thresholds_doc: str = ""
    mitre: tuple[str, ...] = ()
    profile: str | None = None
    gateway_action: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


#: scan: when each rule fires (the rule tables carry title, remediation and controls)
_SCAN_WHEN: dict[str, str] = {
    "dicom-any-called-ae": "an association with a random called AE title (and random calling AE) is accepted",
    "dicom-any-calling-ae": "an association with a random calling AE title is accepted (after the called AE was "
    "found, from `--called-ae` or a short list of common titles)",
    "dicom-open-query": "on an association opened with a random calling AE, a C-FIND for a StudyInstanceUID that "
    "cannot exist (`2.25.<uuid>`) ends with a success/warning status (nothing is returned even by a production "
    "PACS). `--intrusive` adds match counts at STUDY and PATIENT level, capped at 100 and cancelled with "
    "C-CANCEL; identifiers are counted and dropped",
    "dicom-open-retrieve": "on such an association, a C-MOVE of a non-existent study to a random destination AE "
    "is not refused (any status other than A801 / 0124 / 0122 / 0211 / A702 and other failures), or a C-GET of a "
    "non-existent study succeeds",
    "dicom-open-store": "`--intrusive` only: a C-STORE of a synthetic Secondary Capture object labelled "
    "`RADGUARD SCAN TEST OBJECT - NOT PATIENT DATA` (PatientID `RADGUARD-TEST-NOT-A-PATIENT`) is accepted. "
    "The object stays on the target: delete it there",
    "dicom-cleartext": "the DICOM service answers in clear text (no TLS)",
    "tls-weak": "a TLS endpoint (DICOM over TLS, HTTPS) accepts TLS 1.0 or 1.1 (probed at `@SECLEVEL=0`), a TLS "
    "1.2 suite without forward secrecy (static RSA) or without AEAD (CBC), or presents a certificate that is "
    "expired / not yet valid / self-signed / not matching the scanned host or address / RSA or DSA < 2048 bits / "
    "EC < 256 bits / SHA-1 or MD5 signed. Evidence lists each issue (RFC 9325, RFC 8996, RFC 9525, DICOM PS3.15 "
    "B.9)",
    "known-vulnerable-version": "the product/version fingerprinted is in an affected range of "
    "`src/radguard/assess/data/vulnkb.json`. Confidence `medium` when the product states its own version (e.g. "
    "Orthanc `/system`); `low` when the version is a DICOM toolkit's Implementation Version Name. Evidence "
    "carries the CVE ids, fixed versions and this caveat",
    "web-no-auth": "a PACS web API answers without credentials: Orthanc REST `/system` or `/studies`, or DICOMweb "
    "QIDO-RS `/dicom-web/studies` (bodies are counted, never kept)",
    "web-default-credentials": "`--intrusive` only: a vendor default account from "
    "`src/radguard/assess/data/web_default_credentials.json` is accepted (one request per pair)",
    "web-cleartext": "a PACS web API (identified as Orthanc or DICOMweb) is served over plain HTTP",
}
_SCAN_SEVERITY: dict[str, str] = {
    "known-vulnerable-version": "from the knowledge base entry; lowered one step when the version comes from a "
    "toolkit's Implementation Version Name",
}

#: archive: when each rule fires and how its severity varies (docs/archive.md has the details)
_ARCHIVE_WHEN: dict[str, str] = {
    "executable-preamble": "the 128-byte preamble is not all zero and not TIFF (allowed by PS3.10 §7.5); "
    "evidence: kind, first non-zero offset, count, SHA-256 of the preamble",
    "trailing-data": "bytes after the end of the data set (after pixel data the element stream stops being "
    "ascending/valid, or a foreign magic starts where an element should); evidence: kind, offset, size, SHA-256",
    "not-dicom": "no `DICM` magic and no recognisable data set; says when it looks encrypted (entropy), "
    "partially encrypted, carries a ransomware extension or is a ransom note",
    "malformed": "the data set walk stopped: `truncated`, `invalid-vr`, `invalid-length`, `tag-order`, "
    "`bad-sequence`, `bad-file-meta`, `deflate-error`; evidence: offset, tag, keyword, elements parsed",
    "active-content": "EncapsulatedDocument PDF with JavaScript/OpenAction/Launch/embedded files, CDA/HTML with "
    "script or event handlers, executables/archives/scripts at the start of OB/UN/private element values",
    "unreadable": "open/read failed (permission, broken symlink, loop)",
    "header-tampered": "data set elements (group 0002 and pixel data excluded) differ from the sealed ledger; "
    "evidence names changed/added/removed attributes by keyword (private: tag), never values",
    "pixel-tampered": "pixel data differs from the ledger and no transfer syntax change explains it; evidence: "
    "changed frames and a bounding box per frame",
    "transcoded": "the file bytes differ but attributes and decoded pixels match (file meta rewritten, "
    "re-encoding, lossless compression)",
    "missing": "a sealed object is gone",
    "unexpected": "a file under a sealed root was never sealed (never raised for a tree that was never sealed)",
    "ransomware-burst": "since the last seal, many sealed objects under one root changed, were encrypted or "
    "vanished within a short window (thresholds below)",
    "canary-touched": "a decoy planted by `radguard canary plant` changed or vanished",
    "ledger-invalid": "ledger rows edited outside radguard, Merkle root or signature mismatch, or signed by a key "
    "other than the trusted one",
    "unrecoverable": "`radguard recover` found no backup copy whose SHA-256 matches the ledger",
}
_ARCHIVE_SEVERITY: dict[str, str] = {
    "executable-preamble": "critical (PE, ELF, Mach-O), high (script, ZIP/RAR/7z, HTML), medium (PDF, gzip), "
    "low (other non-zero)",
    "trailing-data": "by kind as for the preamble, at least medium",
    "not-dicom": "critical if encrypted / partially encrypted / ransom note; medium with a ransomware extension; "
    "low otherwise",
    "malformed": "low for a headerless data set or a VR encoding contradicting the transfer syntax",
    "active-content": "critical (`/Launch`, executable inside), high (script, `/JavaScript`, embedded files, "
    "archives), medium (`/OpenAction`, `/AA`, `/SubmitForm` alone)",
    "transcoded": "medium when decoded pixels could not be verified",
}
#: modules holding archive Rule objects (module-level attributes), besides the stateless checks
_ARCHIVE_MODULES: tuple[str, ...] = (
    "radguard.inspect.api",
    "radguard.archive.verify",
    "radguard.archive.audit",
    "radguard.archive.recover",
)
#: archive rules with thresholds: rule id -> (module, dataclass name)
_ARCHIVE_THRESHOLDS: dict[str, tuple[str, str]] = {"ransomware-burst": ("radguard.archive.audit", "BurstThresholds")}


def _source(module: str) -> str:
    return "src/" + module.replace(".", "/") + ".py"


def _summary(doc: str | None, rule_id: str) -> str:
    """A detection's docstring on one line, without its leading ``rule-id``: prefix."""
    text = " ".join((doc or "").split())
    prefix = f"``{rule_id}``"
    if text.startswith(prefix):
        text = text[len(prefix):].lstrip(" :")
        text = text.removeprefix("(baseline):").strip()
    return re.sub(r":[a-z]+:`", "`", text.replace("``", "`"))


def _thresholds(cls: type) -> tuple[tuple[Threshold, ...], str]:
    """The fields of a thresholds dataclass with their defaults, and its docstring."""
    default = cls()
    out = tuple(
        Threshold(name=f.name, default=getattr(default, f.name), type=type(getattr(default, f.name)).__name__)
        for f in dataclasses.fields(cls)
    )
    return out, " ".join((cls.__doc__ or "").split()).replace("``", "`")


def _scan_rules() -> list[RuleInfo]:
    from radguard.assess import rules as scan

    return [
        RuleInfo(
            id=r.id.value, producer=Producer.SCAN, severity=r.severity, title=r.title, remediation=r.remediation,
            controls=tuple(r.controls), source=_source(scan.__name__), description=_SCAN_WHEN.get(r.id.value, ""),
            severity_note=_SCAN_SEVERITY.get(r.id.value, ""), used_by=(Producer.SCAN,),
        )
        for r in scan.RULES.values()
    ]


def _gateway_action(rule_id: str) -> str:
    """The default ``[inspection]`` action of the gateway for a finding of ``rule_id``."""
    from radguard.gateway.addons.inspection import kind_of
    from radguard.gateway.config import InspectionConfig

    return str(getattr(InspectionConfig(), kind_of(rule_id)))


def _archive_rules() -> list[RuleInfo]:
    from radguard.inspect import checks
    from radguard.inspect.rules import Rule

    found: list[tuple[Any, str, bool]] = [(m.RULE, m.__name__, True) for m in checks.MODULES]
    for name in _ARCHIVE_MODULES:
        module = importlib.import_module(name)
        found.extend((v, name, False) for v in vars(module).values() if isinstance(v, Rule))
    out: list[RuleInfo] = []
    seen: set[str] = set()
    for rule, module_name, stateless in found:
        rid = rule.id.value
        if rid in seen:
            continue
        seen.add(rid)
        thresholds: tuple[Threshold, ...] = ()
        thresholds_doc = ""
        if rid in _ARCHIVE_THRESHOLDS:
            mod, cls = _ARCHIVE_THRESHOLDS[rid]
            thresholds, thresholds_doc = _thresholds(getattr(importlib.import_module(mod), cls))
        out.append(RuleInfo(
            id=rid, producer=Producer.ARCHIVE, severity=rule.severity, title=rule.title,
            remediation=rule.remediation, controls=tuple(rule.controls), source=_source(module_name),
            description=_ARCHIVE_WHEN.get(rid, ""), severity_note=_ARCHIVE_SEVERITY.get(rid, ""),
            used_by=(Producer.ARCHIVE, Producer.GATEWAY) if stateless else (Producer.ARCHIVE,),
            thresholds=thresholds, thresholds_doc=thresholds_doc,
            gateway_action=_gateway_action(rid) if stateless else None,
        ))
    return out


def _monitor_rules() -> list[RuleInfo]:
    from radguard.monitor import detections

    out: list[RuleInfo] = []
    for rid in detections.MODULES:
        module = detections.load(rid)
        rule = module.RULE
        thresholds, thresholds_doc = _thresholds(module.Thresholds)
        out.append(RuleInfo(
            id=rule.id, producer=Producer.MONITOR, severity=rule.severity, title=rule.title,
            remediation=rule.remediation, controls=tuple(rule.controls), source=_source(module.__name__),
            description=_summary(module.__doc__, rid), used_by=(Producer.MONITOR,), thresholds=thresholds,
            thresholds_doc=thresholds_doc, mitre=tuple(rule.mitre),
            profile="default" if rid in detections.DEFAULT_PROFILE else "baseline",
        ))
    return out


@cache
def table_entries() -> tuple[RuleInfo, ...]:
    """Every rule of every producer's table, in producer order (duplicates kept: see :func:`duplicates`)."""
    return (*_scan_rules(), *_archive_rules(), *_monitor_rules())


def duplicates() -> dict[str, list[Producer]]:
    """Rule ids defined by more than one producer's table (should be empty: ids are global)."""
    owners: dict[str, list[Producer]] = {}
    for r in table_entries():
        owners.setdefault(r.id, []).append(r.producer)
    return {rid: ps for rid, ps in owners.items() if len(ps) > 1}


def all_rules() -> tuple[RuleInfo, ...]:
    """Every rule once (the first producer's definition of an id wins)."""
    seen: set[str] = set()
    out: list[RuleInfo] = []
    for r in table_entries():
        if r.id not in seen:
            seen.add(r.id)
            out.append(r)
    return tuple(out)


def for_producer(producer: Producer | str | None) -> tuple[RuleInfo, ...]:
    """The rules a producer owns or uses (all of them for ``None``)."""
    if producer is None:
        return all_rules()
    p = Producer(producer)
    return tuple(r for r in all_rules() if r.producer is p or p in r.used_by)


def get(rule_id: str) -> RuleInfo:
    """The rule ``rule_id``; raises KeyError if no producer defines it."""
    for r in all_rules():
        if r.id == rule_id:
            return r
    raise KeyError(rule_id)


def control_title(ref: str) -> str | None:
    """The catalog title of a control reference, or None when the catalog does not know it."""
    from radguard import catalog

    try:
        return catalog.resolve(ref).title
    except KeyError:
        return None


def to_dict(rule: RuleInfo) -> dict[str, Any]:
    """The JSON form of a rule (``radguard rules --json``; schema in docs/rules.md)."""
    return {
        "id": rule.id,
        "producer": rule.producer.value,
        "used_by": [p.value for p in rule.used_by],
        "severity": rule.severity.value,
        "severity_note": rule.severity_note,
        "title": rule.title,
        "description": rule.description,
        "remediation": rule.remediation,
        "controls": [{"ref": c, "title": control_title(c)} for c in rule.controls],
        "thresholds": [{"name": t.name, "default": _jsonable(t.default), "type": t.type} for t in rule.thresholds],
        "thresholds_doc": rule.thresholds_doc,
        "mitre": list(rule.mitre),
        "profile": rule.profile,
        "gateway_action": rule.gateway_action,
        "source": rule.source,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, frozenset, set)):
        return list(value)
    return value


# ---------------------------------------------------------------------------------------------- markdown

INTRO = """\
# radguard rules

<!-- GENERATED by `python -m radguard.rules --markdown > docs/rules.md` from the producers' rule
tables; edit the tables (or the intro in src/radguard/rules.py), not this file. -->

Every finding names a stable rule id, a severity, a target, evidence (facts, counts, hashes,
keywords: never PHI values), a remediation and the controls it maps to (catalog ids: `hipaa:`
45 CFR 164 Security Rule, `csf:` NIST CSF 2.0; browse them with `radguard controls show REF`).
Rule ids are unique across producers, so a rule id alone says what was found and by whom.

The same catalogue on the command line: `radguard rules [--producer scan|archive|monitor|gateway]
[--json]` and `radguard rules show ID [--json]`. The severity below is the default; where a rule
raises or lowers it per finding, the rule says how. Thresholds are the defaults; the monitor's are
tuned with `radguard pcap|monitor --threshold RULE.FIELD=VALUE` (docs/monitor.md), the archive's
`ransomware-burst` with `radguard audit --burst-min-count/--burst-min-share/--burst-window`.

`--json` prints `{"schema": "radguard.rules/1", "producer": null|"scan"|..., "count": N, "rules": [...]}`
(`show`: `{"schema": "radguard.rule/1", "rule": {...}}`); each rule: `id`, `producer` (whose table
defines it), `used_by` (producers whose findings or decisions use it), `severity` (default,
lowercase), `severity_note`, `title`, `description` (when it fires), `remediation`, `controls`
(`[{"ref": "hipaa:164.312(e)(1)", "title": "Transmission security"}, ...]`), `thresholds`
(`[{"name", "default", "type"}]`), `thresholds_doc`, `mitre` (ATT&CK technique ids), `profile`
(monitor: `default` or `baseline`), `gateway_action` (the gateway's default `[inspection]` action),
`source` (the module that defines it).

Producers: [scan](#scan) (`radguard scan`, issue 3), [archive](#archive) (`radguard audit`,
`seal`, `recover`, `canary`, docs/archive.md), [monitor](#monitor) (`radguard pcap`,
`radguard monitor`, docs/monitor.md), [gateway](#gateway) (`radguard gateway`, docs/gateway.md).
"""

_PRODUCER_NOTES: dict[Producer, str] = {
    Producer.SCAN: "Rules of `radguard scan TARGET...` (probes in `src/radguard/assess/probes/`). What runs on a "
    "port is identified by probing (an A-ASSOCIATE-RQ first, then TLS, then HTTP), never by the port number. "
    "Facts that are not findings (accepted presentation contexts, reject reasons, probe verdicts, TLS and "
    "fingerprint facts) are stored as asset attributes.",
    Producer.ARCHIVE: "Rules of `radguard audit` (stateless checks on every file, then verification against the "
    "sealed ledger), `radguard canary` and `radguard recover`. Canonical forms, thresholds and options: "
    "docs/archive.md.",
    Producer.MONITOR: "Detections of `radguard pcap` and `radguard monitor` over the records (docs/monitor.md). "
    "Profile `default` runs every detection that needs no baseline; `baseline` detections run with "
    "`--baseline FILE` (profile `all`). Evidence always carries `mitre`, the ATT&CK technique ids.",
    Producer.GATEWAY: "`radguard gateway` reports no findings of its own: every C-STORE data set gets the "
    "archive's stateless checks, and the strongest `[inspection]` action of their findings decides (`reject` > "
    "`quarantine` > `alert` > `pass`). Its decisions, refusals and alerts are PS3.15 A.5 audit events "
    "(Security Alert 110113, ...), stored as events of run kind `gateway` (docs/gateway.md). The rules it "
    "applies, with the default action:",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _controls_md(refs: Iterable[str]) -> str:
    parts = []
    for ref in refs:
        title = control_title(ref)
        parts.append(f"`{ref}` {title}" if title else f"`{ref}` (unknown to the catalog)")
    return "; ".join(parts)


def _rule_md(rule: RuleInfo) -> list[str]:
    lines = [f"### `{rule.id}`", "", f"**{_cell(rule.title)}**", ""]
    sev = f"- severity: **{rule.severity.value}**"
    if rule.severity_note:
        sev += f"; varies: {rule.severity_note}"
    lines.append(sev)
    if rule.description:
        lines.append(f"- fires when: {rule.description}")
    lines.append(f"- remediation: {rule.remediation}")
    lines.append(f"- controls: {_controls_md(rule.controls)}")
    if rule.mitre:
        lines.append(f"- MITRE ATT&CK: {', '.join(f'`{m}`' for m in rule.mitre)}")
    if rule.profile:
        lines.append(f"- profile: `{rule.profile}`")
    if len(rule.used_by) > 1:
        lines.append(f"- used by: {', '.join(p.value for p in rule.used_by)}"
                     + (f" (gateway default action: `{rule.gateway_action}`)" if rule.gateway_action else ""))
    if rule.thresholds:
        values = ", ".join(f"`{t.name}` = `{_jsonable(t.default)!r}` ({t.type})" for t in rule.thresholds)
        lines.append(f"- thresholds: {values}" + (f". {rule.thresholds_doc}" if rule.thresholds_doc else ""))
    lines.append(f"- source: `{rule.source}`")
    lines.append("")
    return lines


def markdown() -> str:
    """docs/rules.md: the intro, then per producer a summary table and one section per rule."""
    out = [INTRO]
    for producer in Producer:
        out += [f"## {producer.value}", "", _PRODUCER_NOTES[producer], ""]
        rules = for_producer(producer)
        if producer is Producer.GATEWAY:
            out += ["| rule | severity | default action |", "|---|---|---|"]
            out += [f"| [`{r.id}`](#{r.id}) | {r.severity.value} | `{r.gateway_action}` |" for r in rules]
            out.append("")
            continue
        out += ["| rule | severity | title | controls |", "|---|---|---|---|"]
        out += [f"| [`{r.id}`](#{r.id}) | {r.severity.value} | {_cell(r.title)} | {', '.join(r.controls)} |"
                for r in rules]
        out.append("")
        for r in rules:
            out += _rule_md(r)
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m radguard.rules --markdown|--json``."""
    parser = argparse.ArgumentParser(prog="python -m radguard.rules", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--markdown", action="store_true", help="print docs/rules.md")
    group.add_argument("--json", action="store_true", help="print every rule as JSON")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown())
    else:
        import json

        json.dump({"schema": "radguard.rules/1", "rules": [to_dict(r) for r in all_rules()]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
