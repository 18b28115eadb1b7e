"""What a relayed association may use of the gateway: a narrow services object, not the server.

The server (:mod:`radguard.gateway.server`) builds one :class:`Services` and hands it to every
:class:`~radguard.gateway.relay.Relay`; the relay never sees the server, its sockets or its other
associations.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radguard.gateway.bus import EventBus
from radguard.gateway.config import GatewayConfig
from radguard.gateway.policy import PolicyEngine


@dataclass(frozen=True, slots=True)
class Services:
    """The gateway's services for its relays.

    Attributes
    ----------
    config : callable
        The current configuration (follows SIGHUP reloads): limits, timeouts.
    engine : PolicyEngine
        Decision hooks (``on_associate``, ``on_request``, ``on_store``); fail closed.
    bus : EventBus
        Where the relay tells what happened (audit records and statistics subscribe).
    executor : Executor
        Threads for work kept off the event loop (large data sets' ``on_store`` hooks, quarantine files).
    spool_dir : Path
        Where held C-STORE data sets above the in-memory limit go.
    quarantine : callable
        ``(data, sop_instance_uid, sidecar) -> path``: keep a refused data set.
    negotiating : callable
        True while some connection is in its A-ASSOCIATE phase: relays then serve received chunks in
        their tasks, not in the transports' callbacks, so that new associations are not slowed by busy ones.
    """

    config: Callable[[], GatewayConfig]
    engine: PolicyEngine
    bus: EventBus
    executor: Executor
    spool_dir: Path
    quarantine: Callable[[bytes, str, dict[str, Any]], Path]
    negotiating: Callable[[], bool]
