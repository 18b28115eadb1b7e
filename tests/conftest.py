"""Shared pytest fixtures: real peers on free loopback ports (see tests/support/peers.py)."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from radguard.range.samples import disable_downloads
from tests.support.peers import (
    OrthancPeer,
    Peer,
    PostgresServer,
    start_dcmqrscp,
    start_orthanc,
    start_postgres,
    start_storescp,
)
from tests.support.tlspeers import Certs, make_certs

os.environ.setdefault("TCP_NODELAY", "1")
# pydicom would download non-bundled test files from the internet: never at run time.
disable_downloads()


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own SQLite store unless it sets RADGUARD_DB itself."""
    monkeypatch.setenv("RADGUARD_DB", f"sqlite:///{tmp_path / 'radguard-test.db'}")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"required test peer programs missing: {missing} (run `make test`, which installs them)")


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[Peer]:
    _need("storescp")
    peer = start_storescp(tmp_path)
    yield peer
    peer.stop()


@pytest.fixture
def dcmqrscp(tmp_path: Path) -> Iterator[Peer]:
    """dcmqrscp (AE ``QRSCP``) that only knows the calling AE ``KNOWNSCU`` from 127.0.0.1."""
    _need("dcmqrscp")
    peer = start_dcmqrscp(tmp_path, peers={"KNOWNSCU": ("127.0.0.1", 1)})
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancPeer]:
    """Orthanc with its default access control (module-scoped: tests must not depend on its content)."""
    _need("Orthanc")
    peer = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def orthanc_hardened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancPeer]:
    """Orthanc with called-AE check, one known modality ``WS01`` at 127.0.0.1, HTTP authentication."""
    _need("Orthanc")
    peer = start_orthanc(
        tmp_path_factory.mktemp("orthanc-hard"),
        hardened=True,
        modalities={"ws01": ("WS01", "127.0.0.1", 11113)},
    )
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A test CA with a good and a weak server certificate (see tests/support/tlspeers.py)."""
    _need("openssl")
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    _need("runuser")
    if not Path("/usr/lib/postgresql/15/bin/initdb").exists():
        pytest.fail("PostgreSQL 15 server binaries missing (run `make test`, which installs them)")
    server = start_postgres()
    yield server
    server.stop()


_db_counter = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty PostgreSQL database (SQLAlchemy URL) on the session's server."""
    return postgres_server.create_database(f"t{os.getpid()}_{next(_db_counter)}")
