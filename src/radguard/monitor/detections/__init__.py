"""Detections over monitor records: one module per detection, each with a :data:`RULE` (a row of
``rules.toml`` beside this file, :class:`radguard.models.Rule`) and a ``Thresholds`` dataclass of
documented, tunable values whose defaults are the row's ``[rule.thresholds]``; a profile chooses which run.

A detection is a pure function of the records (``detect(records, thresholds)``): it never
reopens the capture. Findings carry counts, AE titles, addresses and attribute keywords,
never PHI values; ``evidence["mitre"]`` names the MITRE ATT&CK techniques.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

from radguard.errors import UsageError
from radguard.models import Finding

Record = Mapping[str, Any]

#: rule id -> module (in radguard.monitor.detections)
MODULES: dict[str, str] = {
    "cleartext-phi": "cleartext_phi",
    "ae-brute-force": "ae_brute_force",
    "dicom-sweep": "dicom_sweep",
    "query-harvesting": "query_harvesting",
    "association-flood": "association_flood",
    "protocol-anomaly": "protocol_anomaly",
    "non-dicom-on-dicom-port": "non_dicom_port",
    "malicious-object": "malicious_object",
    "bulk-retrieve": "bulk_retrieve",
    "unknown-peer": "unknown_peer",
    "honeytoken-touched": "honeytoken",
    "web-harvest": "web_harvest",
    "web-upload-malicious": "web_upload_malicious",
    "web-default-credentials-used": "web_default_credentials",
    "web-unauthenticated": "web_unauthenticated",
}
#: detections that need no learned baseline (the issue's default profile)
DEFAULT_PROFILE: tuple[str, ...] = (
    "cleartext-phi", "ae-brute-force", "dicom-sweep", "query-harvesting", "malicious-object",
    "association-flood", "protocol-anomaly", "non-dicom-on-dicom-port", "honeytoken-touched",
    "web-harvest", "web-upload-malicious", "web-default-credentials-used", "web-unauthenticated",
)
#: detections that compare against a configured baseline (``--baseline FILE``)
BASELINE_PROFILE: tuple[str, ...] = ("bulk-retrieve", "unknown-peer")
#: detections that read ``context`` (the baseline ones, and honeytoken-touched its honeytoken hashes)
CONTEXT_RULES: frozenset[str] = frozenset({*BASELINE_PROFILE, "honeytoken-touched"})
PROFILES: dict[str, tuple[str, ...]] = {
    "default": DEFAULT_PROFILE,
    "all": DEFAULT_PROFILE + BASELINE_PROFILE,
    "none": (),
}


def profile_names() -> tuple[str, ...]:
    """The profile names ``--profile`` accepts (anything else is read as a comma-separated list of rule ids)."""
    return tuple(PROFILES)


def load(rule_id: str) -> ModuleType:
    """The module of a detection."""
    try:
        return importlib.import_module(f"radguard.monitor.detections.{MODULES[rule_id]}")
    except KeyError:
        raise UsageError(f"unknown detection {rule_id!r} (known: {', '.join(MODULES)})") from None


def thresholds_for(rule_id: str, overrides: Mapping[str, Any]) -> Any:
    """The detection's Thresholds with ``overrides`` (field -> value) applied and type-checked."""
    cls = load(rule_id).Thresholds
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for name, raw in overrides.items():
        if name not in fields:
            raise UsageError(f"{rule_id} has no threshold {name!r} (has: {', '.join(fields)})")
        default = getattr(cls(), name)
        try:
            values[name] = type(default)(raw) if not isinstance(default, (tuple, frozenset)) else type(default)(
                str(raw).split(",") if isinstance(raw, str) else raw)
        except (TypeError, ValueError):
            raise UsageError(f"{rule_id}.{name}: {raw!r} is not a valid {type(default).__name__}") from None
    return cls(**values)


def run(records: Sequence[Record], profile: str | Sequence[str] = "default",
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        context: Mapping[str, Any] | None = None) -> list[Finding]:
    """Run the detections of ``profile`` (a name or a list of rule ids) over ``records``."""
    rules = PROFILES.get(profile, ()) if isinstance(profile, str) else tuple(profile)
    if isinstance(profile, str) and profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    findings: list[Finding] = []
    for rule_id in rules:
        module = load(rule_id)
        thresholds = thresholds_for(rule_id, (overrides or {}).get(rule_id, {}))
        if rule_id in CONTEXT_RULES:
            findings.extend(module.detect(records, thresholds, context=context))
        else:
            findings.extend(module.detect(records, thresholds))
    return findings


def endpoint(record: Record) -> str:
    """``server:port`` of a record (the target of a network finding)."""
    server = str(record.get("server"))
    return f"[{server}]:{record.get('server_port')}" if ":" in server else f"{server}:{record.get('server_port')}"


def windows(times: Sequence[float], window: float) -> int:
    """The largest number of events inside any window of ``window`` seconds (times sorted)."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def by_kind(records: Sequence[Record], kind: str) -> Iterator[Record]:
    return (r for r in records if r.get("kind") == kind)
