"""The rulebook: every rule every producer reports, read from the producers' rule tables (data files).

DESIGN.md: "a finding always names: rule id, severity, target, evidence, remediation, and the
controls it maps to", each rule "documented in docs/rules.md"; "rules are data". Each producer keeps
its rule table beside its code (:data:`TABLES`: ``assess/rules.toml``, ``inspect/rules.toml``,
``archive/rules.toml``, ``monitor/detections/rules.toml``; the keys are described at the top of each
file). This module reads them once (cached) by file path, **without importing
any producer**, so it sits on the ground floor beside :mod:`radguard.catalog` (docs/ARCHITECTURE.md)
and every producer gets its :class:`radguard.models.Rule` objects from it::

    RULE = rulebook.rule("executable-preamble")
    yield RULE.finding(obj.path, {"kind": "pe", "offset": 0})

The gateway has no rules of its own: it applies the stateless object checks to every C-STORE data
set (its decisions and alerts are PS3.15 A.5 audit events, see docs/gateway.md), so those rules list
it in ``used_by`` with its default ``[inspection]`` action.

``python -m radguard.rulebook --markdown > docs/rules.md`` (``make docs``) regenerates the
documentation; ``--json`` prints the rulebook as JSON; ``radguard rules`` shows it.
"""

from __future__ import annotations

import enum
import os
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from radguard.models import Rule, Severity

#: the directory of the ``radguard`` package (the tables are read by path: no producer is imported)
ROOT = os.path.dirname(os.path.abspath(__file__))
#: the producers' rule tables, relative to :data:`ROOT`, in documentation order
TABLES: tuple[str, ...] = (
    "assess/rules.toml",
    "inspect/rules.toml",
    "archive/rules.toml",
    "monitor/detections/rules.toml",
    "policy/rules.toml",
)


class Producer(enum.StrEnum):
    """The parts of radguard that emit findings (or, for the gateway, apply another producer's rules)."""

    SCAN = "scan"
    ARCHIVE = "archive"
    MONITOR = "monitor"
    GATEWAY = "gateway"
    DECOY = "decoy"


@dataclass(frozen=True, kw_only=True, slots=True)
class Threshold:
    """One tunable value of a rule: its name, documented default and type name."""

    name: str
    default: Any
    type: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """A rule as the rulebook shows it: the :class:`Rule` and what its table says about its use.

    ``producer`` is the section of docs/rules.md the rule belongs to; ``used_by`` lists every
    producer whose findings or decisions use the rule (the owner first). ``severity_note`` says how
    a finding raises or lowers the default severity. ``profile`` is the monitor profile that runs a
    detection, ``gateway_action`` the gateway's default ``[inspection]`` action for an object check.
    ``module`` is the module that emits the rule, ``table`` the data file that defines it.
    """

    rule: Rule
    producer: Producer
    used_by: tuple[Producer, ...]
    module: str
    table: str
    severity_note: str = ""
    thresholds_doc: str = ""
    profile: str | None = None
    gateway_action: str | None = None

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def source(self) -> str:
        """The emitting module as a path from the repository root (``src/radguard/...py``)."""
        return "src/" + self.module.replace(".", "/") + ".py"

    @property
    def thresholds(self) -> tuple[Threshold, ...]:
        return tuple(Threshold(name=k, default=v, type=type(v).__name__) for k, v in self.rule.thresholds.items())


_TABLE_KEYS = frozenset({"producer", "used_by", "module", "rule"})
_ROW_KEYS = frozenset({"id", "severity", "severity_note", "title", "when", "remediation", "controls", "attack",
                       "module", "used_by", "profile", "gateway_action", "thresholds_doc", "thresholds"})
_REQUIRED = ("id", "severity", "title", "when", "remediation", "controls", "module")


def _frozen(value: Any) -> Any:
    """A TOML value as the code uses it: arrays become tuples (thresholds are immutable defaults)."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected an array of strings, got {value!r}")
    return tuple(value)


def _entry(row: Mapping[str, Any], table: str, defaults: Mapping[str, Any]) -> Entry:
    where = f"{table}: rule {row.get('id', '?')!r}"
    unknown = set(row) - _ROW_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    values = {**defaults, **row}
    missing = [k for k in _REQUIRED if not values.get(k)]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    thresholds = values.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise ValueError(f"{where}: thresholds must be a table")
    producer = Producer(values["producer"])
    rule = Rule(
        id=str(values["id"]),
        severity=Severity.parse(str(values["severity"])),
        title=str(values["title"]),
        when=str(values["when"]),
        remediation=str(values["remediation"]),
        controls=_strings(values["controls"], where),
        attack=_strings(values.get("attack", []), where),
        thresholds={str(k): _frozen(v) for k, v in thresholds.items()},
    )
    return Entry(
        rule=rule,
        producer=producer,
        used_by=tuple(Producer(p) for p in _strings(values.get("used_by", [producer.value]), where)),
        module=str(values["module"]),
        table="src/radguard/" + table,
        severity_note=str(values.get("severity_note", "")),
        thresholds_doc=str(values.get("thresholds_doc", "")),
        profile=values.get("profile"),
        gateway_action=values.get("gateway_action"),
    )


def load_table(table: str) -> tuple[Entry, ...]:
    """The rows of one rule table (a path relative to the ``radguard`` package), validated."""
    with open(os.path.join(ROOT, *table.split("/")), "rb") as f:
        doc = tomllib.load(f)
    unknown = set(doc) - _TABLE_KEYS
    if unknown:
        raise ValueError(f"{table}: unknown table keys {sorted(unknown)}")
    defaults = {k: v for k, v in doc.items() if k != "rule"}
    return tuple(_entry(row, table, defaults) for row in doc.get("rule", ()))


@cache
def _table(table: str) -> dict[str, Entry]:
    """One table's rows by id, loaded once (a producer that needs one rule reads only the tables up to its own)."""
    return {e.id: e for e in load_table(table)}


@cache
def entries() -> tuple[Entry, ...]:
    """Every rule of every table, in :data:`TABLES` order (loaded once); rule ids must be unique."""
    out = tuple(e for table in TABLES for e in _table(table).values())
    seen: dict[str, str] = {}
    for e in out:
        if e.id in seen:
            raise ValueError(f"rule {e.id!r} is defined in {seen[e.id]} and in {e.table}")
        seen[e.id] = e.table
    return out


def entry(rule_id: str) -> Entry:
    """The rulebook entry of ``rule_id``; raises KeyError if no table defines it.

    Tables are read in :data:`TABLES` order until one defines the id, so ``radguard scan`` parses only the
    scan table at start-up (uniqueness across tables is checked by :func:`entries` and the tests).
    """
    for table in TABLES:
        found = _table(table).get(rule_id)
        if found is not None:
            return found
    raise KeyError(rule_id)


def rule(rule_id: str) -> Rule:
    """The :class:`Rule` of ``rule_id`` (what a producer declares as its ``RULE``); KeyError if unknown."""
    return entry(rule_id).rule


def for_producer(producer: Producer | str | None) -> tuple[Entry, ...]:
    """The rules a producer owns or uses (all of them for ``None``)."""
    if producer is None:
        return entries()
    p = Producer(producer)
    return tuple(e for e in entries() if e.producer is p or p in e.used_by)


def control_title(ref: str) -> str | None:
    """The catalog title of a control reference, or None when the catalog does not know it."""
    from radguard import catalog

    try:
        return catalog.resolve(ref).title
    except KeyError:
        return None


def to_dict(e: Entry) -> dict[str, Any]:
    """The JSON form of a rule (``radguard rules --json``; schema in docs/rules.md)."""
    r = e.rule
    return {
        "id": r.id,
        "producer": e.producer.value,
        "used_by": [p.value for p in e.used_by],
        "severity": r.severity.value,
        "severity_note": e.severity_note,
        "title": r.title,
        "description": r.when,
        "remediation": r.remediation,
        "controls": [{"ref": c, "title": control_title(c)} for c in r.controls],
        "thresholds": [{"name": t.name, "default": _jsonable(t.default), "type": t.type} for t in e.thresholds],
        "thresholds_doc": e.thresholds_doc,
        "mitre": list(r.attack),
        "profile": e.profile,
        "gateway_action": e.gateway_action,
        "source": e.source,
        "table": e.table,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, frozenset, set)):
        return list(value)
    return value


# ---------------------------------------------------------------------------------------------- markdown

INTRO = """\
# radguard rules

<!-- GENERATED by `python -m radguard.rulebook --markdown > docs/rules.md` (`make docs`) from the
producers' rule tables (src/radguard/*/rules.toml); edit the tables (or the intro in
src/radguard/rulebook.py), not this file. -->

Every finding names a stable rule id, a severity, a target, evidence (facts, counts, hashes,
keywords: never PHI values), a remediation and the controls it maps to (catalog ids: `hipaa:`
45 CFR 164 Security Rule, `csf:` NIST CSF 2.0; browse them with `radguard controls show REF`).
Rule ids are unique across producers, so a rule id alone says what was found and by whom.

The same catalogue on the command line: `radguard rules [--producer scan|archive|monitor|gateway|decoy]
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
`source` (the module that emits it), `table` (the rule table that defines it).

Producers: [scan](#scan) (`radguard scan`, issue 3), [archive](#archive) (`radguard audit`,
`seal`, `recover`, `canary`, docs/archive.md), [monitor](#monitor) (`radguard pcap`,
`radguard monitor`, docs/monitor.md), [gateway](#gateway) (`radguard gateway`, docs/gateway.md),
[decoy](#decoy) (`radguard decoy`, docs/decoy.md).
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
    Producer.DECOY: "`radguard decoy` (docs/decoy.md): a decoy PACS nobody has a reason to talk to, and honeytoken "
    "studies planted in the real PACS. Every touch of the decoy is an alert line within a second, an ATNA "
    "Security Alert when an audit trail is configured, a store event, and one finding per source at the end.",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _controls_md(refs: Iterable[str]) -> str:
    parts = []
    for ref in refs:
        title = control_title(ref)
        parts.append(f"`{ref}` {title}" if title else f"`{ref}` (unknown to the catalog)")
    return "; ".join(parts)


def _rule_md(e: Entry) -> list[str]:
    r = e.rule
    lines = [f"### `{r.id}`", "", f"**{_cell(r.title)}**", ""]
    sev = f"- severity: **{r.severity.value}**"
    if e.severity_note:
        sev += f"; varies: {e.severity_note}"
    lines.append(sev)
    if r.when:
        lines.append(f"- fires when: {r.when}")
    lines.append(f"- remediation: {r.remediation}")
    lines.append(f"- controls: {_controls_md(r.controls)}")
    if r.attack:
        lines.append(f"- MITRE ATT&CK: {', '.join(f'`{m}`' for m in r.attack)}")
    if e.profile:
        lines.append(f"- profile: `{e.profile}`")
    if len(e.used_by) > 1:
        lines.append(f"- used by: {', '.join(p.value for p in e.used_by)}"
                     + (f" (gateway default action: `{e.gateway_action}`)" if e.gateway_action else ""))
    if e.thresholds:
        values = ", ".join(f"`{t.name}` = `{_jsonable(t.default)!r}` ({t.type})" for t in e.thresholds)
        lines.append(f"- thresholds: {values}" + (f". {e.thresholds_doc}" if e.thresholds_doc else ""))
    lines.append(f"- source: `{e.source}`")
    lines.append("")
    return lines


def markdown() -> str:
    """docs/rules.md: the intro, then per producer a summary table and one section per rule."""
    out = [INTRO]
    for producer in Producer:
        out += [f"## {producer.value}", "", _PRODUCER_NOTES[producer], ""]
        found = for_producer(producer)
        if producer is Producer.GATEWAY:
            out += ["| rule | severity | default action |", "|---|---|---|"]
            out += [f"| [`{e.id}`](#{e.id}) | {e.rule.severity.value} | `{e.gateway_action}` |" for e in found]
            out.append("")
            continue
        out += ["| rule | severity | title | controls |", "|---|---|---|---|"]
        out += [f"| [`{e.id}`](#{e.id}) | {e.rule.severity.value} | {_cell(e.rule.title)} | "
                f"{', '.join(e.rule.controls)} |" for e in found]
        out.append("")
        for e in found:
            out += _rule_md(e)
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m radguard.rulebook --markdown|--json``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m radguard.rulebook", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--markdown", action="store_true", help="print docs/rules.md")
    group.add_argument("--json", action="store_true", help="print every rule as JSON")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown())
    else:
        import json

        json.dump({"schema": "radguard.rules/1", "rules": [to_dict(e) for e in entries()]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
