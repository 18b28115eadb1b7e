"""Test peers: re-exported from :mod:`radguard.range.peers` (the demo uses the same department)."""

from radguard.range.peers import (
    LOOPBACK,
    PG_BIN,
    OrthancPeer,
    Peer,
    PostgresServer,
    dcmtk_env,
    free_port,
    orthanc_config,
    start_dcmqrscp,
    start_orthanc,
    start_postgres,
    start_storescp,
    storescu,
    wait_port,
)

__all__ = [
    "LOOPBACK",
    "PG_BIN",
    "OrthancPeer",
    "Peer",
    "PostgresServer",
    "dcmtk_env",
    "free_port",
    "orthanc_config",
    "start_dcmqrscp",
    "start_orthanc",
    "start_postgres",
    "start_storescp",
    "storescu",
    "wait_port",
]
