"""What the gateway addon unit tests share: a configuration with two peers, a policy context, associations."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from radguard.dicom.enums import RejectReason, RejectResult, RejectSource
from radguard.gateway.config import GatewayConfig, parse_config
from radguard.gateway.policy import AssociationInfo, Containment, Decision

CT = "1.2.840.10008.5.1.4.1.1.2"
FIND = "1.2.840.10008.5.1.4.1.2.2.1"
MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
GET = "1.2.840.10008.5.1.4.1.2.2.3"

PERM_USER_3 = (RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER, RejectReason.CALLING_AE_NOT_RECOGNIZED)
PERM_USER_7 = (RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER, RejectReason.CALLED_AE_NOT_RECOGNIZED)


def gateway_config(tmp: Path, per_minute: int = 120, max_associations: int = 64) -> GatewayConfig:
    """CT01 (127.0.0.1: C-ECHO, C-STORE) and WS01 (10.1.0.7 or 10.1/16, port 11113: Q/R, moves to itself)."""
    return parse_config({
        "gateway": {"listen": "127.0.0.1:0", "upstream": "127.0.0.1:4242", "upstream_ae": "ORTHANC",
                    "ae_title": "RADGUARD", "control": str(tmp / "c.sock")},
        "peer": [
            {"ae": "CT01", "hosts": ["127.0.0.1"], "allow": ["C-ECHO", "C-STORE"]},
            {"ae": "WS01", "hosts": ["10.1.0.7", "10.1.0.0/16"], "port": 11113,
             "allow": ["C-ECHO", "C-FIND", "C-MOVE", "C-GET"], "move_destinations": ["WS01"]},
        ],
        "limits": {"associations_per_minute": per_minute, "max_associations": max_associations},
    }, tmp)


@dataclass
class Ctx:
    """The policy context addons read (:class:`radguard.gateway.policy.Context`)."""

    config: GatewayConfig
    containment: Containment = field(default_factory=Containment)


def assoc(calling: str, host: str = "127.0.0.1", called: str = "RADGUARD") -> AssociationInfo:
    return AssociationInfo(id=1, calling_ae=calling, called_ae=called, client_host=host, client_port=1234)


def reject(d: Decision) -> tuple[int, int, int] | None:
    """(result, source, reason) of an A-ASSOCIATE-RJ decision, None when it carries none."""
    return None if d.reject is None else (int(d.reject.result), int(d.reject.source), int(d.reject.reason))
