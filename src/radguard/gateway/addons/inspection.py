"""Inspection of C-STORE data sets with the archive checks (45 CFR 164.308(a)(5)(ii)(B), 164.312(c)(1)).

The checks are the archive helper's (:mod:`radguard.inspect.api`); this addon only maps their
findings to the configured action per kind (``[inspection]``): executables and active content are
rejected, malformed data sets pass with an alert, by default. A data set the policy rejects or
quarantines never reaches the upstream; quarantined ones are kept in the quarantine folder with a
JSON sidecar (findings, calling AE, no PHI values).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radguard.gateway.config import InspectAction, InspectionConfig
from radguard.inspect.api import inspect_dataset
from radguard.models import Finding

log = logging.getLogger("radguard.gateway")

#: strength of an action: the strongest one among the findings wins
_RANK = {InspectAction.PASS: 0, InspectAction.ALERT: 1, InspectAction.QUARANTINE: 2, InspectAction.REJECT: 3}
_SAFE = re.compile(r"[^0-9A-Za-z._-]")

Checker = Callable[[bytes, str, str], list[Finding]]


def archive_checker() -> Checker:
    """The shared stateless object checks on a bare data set (:func:`radguard.inspect.api.inspect_dataset`)."""
    return inspect_dataset


#: trailer kinds (``trailing-data`` evidence) that are executables or archives: governed by ``executable``
_EXECUTABLE_TRAILERS = frozenset({"pe", "elf", "mach-o", "script", "zip", "rar", "7z", "gzip"})


def kind_of(rule: str, evidence: Mapping[str, object] | None = None) -> str:
    """Which ``[inspection]`` key governs a finding (its rule id, and for trailers what they hold).

    Bytes appended after the data set that are an executable or an archive count as ``executable``
    (rejected by default, like an executable preamble); other trailers as ``malformed``.
    """
    if "executable" in rule:
        return "executable"
    if rule == "trailing-data" and evidence is not None and evidence.get("kind") in _EXECUTABLE_TRAILERS:
        return "executable"
    if "active-content" in rule or "active_content" in rule:
        return "active_content"
    if rule in ("malformed", "not-dicom", "trailing-data") or "malformed" in rule:
        return "malformed"
    return "other"


@dataclass(frozen=True, slots=True)
class InspectionResult:
    """The findings on one data set and what to do with it."""

    action: InspectAction
    findings: tuple[Finding, ...] = ()
    error: str | None = None

    @property
    def forward(self) -> bool:
        return self.action in (InspectAction.PASS, InspectAction.ALERT)


class Inspection:
    """Run the archive checks on a data set and pick the action (fails closed: a crash rejects)."""

    name = "inspection"

    def __init__(self, config: Callable[[], InspectionConfig], checker: Checker | None = None) -> None:
        self._config = config
        self._checker = checker if checker is not None else archive_checker()
        if self._checker is None:
            log.warning("inspection: radguard.inspect.api is not available; data sets pass uninspected")

    @property
    def available(self) -> bool:
        return self._checker is not None

    @property
    def active(self) -> bool:
        """Whether data sets must be held and inspected before they go upstream."""
        return self._checker is not None and self._config().enabled

    def action_for(self, findings: Sequence[Finding]) -> InspectAction:
        cfg = self._config()
        action = InspectAction.PASS
        for f in findings:
            candidate: InspectAction = getattr(cfg, kind_of(f.rule, f.evidence))
            if _RANK[candidate] > _RANK[action]:
                action = candidate
        return action

    def inspect(self, data: bytes, transfer_syntax: str, target: str) -> InspectionResult:
        """Inspect one data set (bare, as carried by C-STORE) in the configured way."""
        cfg = self._config()
        if not cfg.enabled or self._checker is None:
            return InspectionResult(InspectAction.PASS)
        try:
            findings = tuple(self._checker(data, transfer_syntax, target))
        except Exception as exc:  # a decision: fail closed
            log.error("inspection error on %s: %s: %s (rejected)", target, type(exc).__name__, exc)
            return InspectionResult(InspectAction.REJECT, error=f"{type(exc).__name__}")
        return InspectionResult(self.action_for(findings), findings)

    def quarantine(self, data: bytes, sop_instance: str, meta: dict[str, Any]) -> Path:
        """Keep a refused data set (and a JSON sidecar) in the quarantine folder; returns the data path."""
        folder = self._config().quarantine
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)  # patient data: owner only, whatever the umask or an older folder said
        name = _SAFE.sub("_", sop_instance or "unknown")[:128]
        n = 0
        while True:
            path = folder / (f"{name}.dcmds" if n == 0 else f"{name}.{n}.dcmds")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never reuse or follow a name
            except FileExistsError:
                n += 1
                continue
            break
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        side = os.open(path.with_suffix(".json"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(side, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(meta, indent=1, default=str))
        return path
