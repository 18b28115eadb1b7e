"""Monitor records, findings and assets of a pcap run in a real PostgreSQL store (migration 0003_monitor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from radguard.monitor.records_store import load_records
from radguard.monitor.run import Options, run_pcap, store_run
from radguard.store import open_store
from tests.unit.test_monitor_analyzer import _pcap

pytestmark = pytest.mark.integration


def test_pcap_run_in_postgres(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADGUARD_DB", postgres_url)
    outcome = run_pcap([_pcap(tmp_path)], Options())
    run_id = store_run("pcap", {"files": ["x.pcap"]}, outcome)
    store = open_store(postgres_url)
    try:
        assert [r["command"] for r in load_records(store, run_id, kind="dimse")] == ["C-ECHO", "C-STORE", "C-FIND"]
        assert {f.rule for f in store.findings(run_id)} == {"cleartext-phi", "query-harvesting"}
        assert [a.target for a in store.assets(run_id)] == ["10.0.0.2:104"]
    finally:
        store.close()
