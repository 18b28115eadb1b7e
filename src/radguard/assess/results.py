"""What a scan yields: the options of one scan, and per port / per host results.

Kept apart from the engine (:mod:`radguard.assess.scanner`) and the open-port probes
(:mod:`radguard.assess.openport`) so that a sweep of closed ports imports neither the DICOM
stack nor the TLS and web probes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from radguard.assess.identify import PortState, ServiceKind
from radguard.assess.targets import format_target
from radguard.models import Asset, Finding

if TYPE_CHECKING:
    from radguard.assess.knowledge import Fingerprint
    from radguard.assess.probes.web import WebReport

DEFAULT_CONCURRENCY = 64
DEFAULT_PER_HOST = 4
DEFAULT_TIMEOUT = 3.0
#: default cap on the bytes read over one association (:class:`radguard.assess.dicom_client.DicomClient`)
DEFAULT_MAX_READ = 8 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class ScanOptions:
    """Tunables of one scan (documented CLI defaults)."""

    ports: Sequence[int]
    concurrency: int = DEFAULT_CONCURRENCY
    per_host: int = DEFAULT_PER_HOST
    timeout: float = DEFAULT_TIMEOUT
    intrusive: bool = False
    calling_ae: str | None = None
    called_aes: tuple[str, ...] = ()
    max_read: int = DEFAULT_MAX_READ


@dataclass(kw_only=True)
class PortResult:
    host: str
    port: int
    state: PortState
    service: ServiceKind | None = None
    asset: Asset | None = None
    findings: list[Finding] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # merge inputs (not serialised)
    fingerprint: Fingerprint | None = None
    web: WebReport | None = None

    @property
    def target(self) -> str:
        return format_target(self.host, self.port)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "state": self.state.value,
            "service": self.service.value if self.service else None,
            "product": self.asset.product if self.asset else None,
            "version": self.asset.version if self.asset else None,
            "findings": len(self.findings),
        }

    def json_line(self) -> str:
        """``json.dumps(self.to_dict())`` and a line feed; a port where nothing answered (most of a sweep)
        without building the dict."""
        if self.asset is None and self.service is None and not self.findings:
            return f'{{"target": {json.dumps(self.target)}, "state": "{self.state.value}", "service": null, ' \
                   '"product": null, "version": null, "findings": 0}\n'
        return json.dumps(self.to_dict()) + "\n"

    def facts(self) -> int:
        """Number of facts reported for this port (benchmark: state + asset attributes + findings)."""
        n = 1
        if self.asset is not None:
            n += 1 + sum(1 for v in self.asset.attributes.values() if v not in (None, [], {}))
            n += int(self.asset.product is not None) + int(self.asset.version is not None)
        return n + len(self.findings)


@dataclass(kw_only=True)
class HostResult:
    host: str
    ports: list[PortResult]
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for p in self.ports for f in p.findings]

    @property
    def assets(self) -> list[Asset]:
        return [p.asset for p in self.ports if p.asset is not None]

    @property
    def all_errors(self) -> list[dict[str, Any]]:
        return self.errors + [e for p in self.ports for e in p.errors]


def error_entry(target: str, stage: str, kind: str, message: str) -> dict[str, Any]:
    """One entry of the scan's ``errors`` list."""
    return {"target": target, "stage": stage, "kind": kind, "message": message}
