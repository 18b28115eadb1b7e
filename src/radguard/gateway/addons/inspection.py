"""Inspection of C-STORE data sets with the shared object checks (45 CFR 164.308(a)(5)(ii)(B), 164.312(c)(1)).

An ``on_store`` decision hook (:meth:`radguard.gateway.policy.PolicyEngine.on_store`, fails closed: an
exception rejects the data set). The checks are :func:`radguard.inspect.api.inspect_dataset`; this addon
only maps their findings to the configured action per kind (``[inspection]``): executables and active
content are rejected, and so are malformed data sets, by default. A data set the policy rejects or
quarantines never reaches the upstream; quarantined ones are kept in the quarantine folder with a JSON
sidecar (findings, calling AE, no PHI values).

The data set is parsed once: the checks' own parse (:func:`radguard.inspect.api.inspect_dataset_parsed`)
also gives the audit identifiers (Patient ID, Study Instance UID) the relay records.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from radguard.gateway.config import InspectAction, InspectionConfig
from radguard.gateway.dataset import identifiers_from
from radguard.gateway.policy import STORE_PASS, STORE_RANK, AssociationInfo, StoreData, StoreVerdict
from radguard.inspect.api import inspect_dataset_parsed
from radguard.models import Finding

log = logging.getLogger("radguard.gateway")

_SAFE = re.compile(r"[^0-9A-Za-z._-]")

#: replaces the shared checks (tests): ``(data, transfer_syntax, target) -> findings``
Checker = Callable[[bytes, str, str], list[Finding]]


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


class Inspection:
    """The ``on_store`` hook: run the object checks on a held data set and pick the action.

    ``checker`` replaces the shared checks (tests); the relay then reads the identifiers itself.
    """

    name = "inspection"

    def __init__(self, config: Callable[[], InspectionConfig], checker: Checker | None = None) -> None:
        self._config = config
        self._checker = checker

    @property
    def available(self) -> bool:
        return True

    @property
    def active(self) -> bool:
        """Whether data sets must be held and inspected before they go upstream."""
        return self._config().enabled

    def action_for(self, findings: Sequence[Finding]) -> InspectAction:
        cfg = self._config()
        action = InspectAction.PASS
        for f in findings:
            candidate: InspectAction = getattr(cfg, kind_of(f.rule, f.evidence))
            if STORE_RANK[candidate] > STORE_RANK[action]:
                action = candidate
        return action

    def on_store(self, assoc: AssociationInfo, store: StoreData) -> StoreVerdict:
        """Inspect one data set (bare, as carried by C-STORE). Raises on a checker crash: the engine rejects."""
        if not self._config().enabled:
            return STORE_PASS
        if self._checker is None:
            found, obj = inspect_dataset_parsed(store.data, store.transfer_syntax, store.target)
            findings, ids = tuple(found), identifiers_from(obj.part10)
        else:
            findings, ids = tuple(self._checker(store.data, store.transfer_syntax, store.target)), None
        return StoreVerdict(self.action_for(findings), findings, addon=self.name, identifiers=ids)

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
