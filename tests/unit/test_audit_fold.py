"""Security alerts folded per source (radguard.audittrail.fold): the first act written at once, the rest of
a window counted, bounded memory under a flood from many sources; the record validates (PS3.15 A.5.1)."""

from __future__ import annotations

from lxml import etree

from radguard.audittrail import SCHEMA_PATH
from radguard.audittrail.fold import OTHER_SOURCES, SourceFolder, node_alert
from radguard.audittrail.messages import to_json, to_xml


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_act_at_once_then_one_count_per_window() -> None:
    clock = Clock()
    folder = SourceFolder(window=60, clock=clock)
    assert folder.hit("10.0.0.1", "not-dicom") == (True, [])
    for _ in range(199):
        assert folder.hit("10.0.0.1", "not-dicom") == (False, [])
    assert folder.next_due() == 60 and folder.due() == []
    clock.now += 60
    (summary,) = folder.due()
    assert summary.source == "10.0.0.1" and summary.count == 199 and summary.kinds == {"not-dicom": 199}
    assert len(folder) == 0 and folder.next_due() is None
    # a new window: written at once again; a quiet source is forgotten without a record
    assert folder.hit("10.0.0.1", "artim-timeout") == (True, [])
    clock.now += 61
    assert folder.due() == [] and len(folder) == 0


def test_a_late_act_writes_the_previous_windows_count_first() -> None:
    clock = Clock()
    folder = SourceFolder(window=10, clock=clock)
    folder.hit("10.0.0.1", "oversized-pdu")
    folder.hit("10.0.0.1", "oversized-pdu")
    clock.now += 11
    write, over = folder.hit("10.0.0.1", "oversized-pdu")
    assert write and [(f.source, f.count) for f in over] == [("10.0.0.1", 1)]


def test_many_sources_stay_bounded() -> None:
    clock = Clock()
    folder = SourceFolder(window=60, max_sources=100, clock=clock)
    written = sum(folder.hit(f"10.0.{i // 256}.{i % 256}", "pending-limit")[0] for i in range(10_000))
    assert len(folder) == 101  # 100 sources and the shared entry
    assert written == 101  # one record per tracked source and one for all the others
    drained = folder.drain()
    assert [(f.source, f.count) for f in drained] == [(OTHER_SOURCES, 10_000 - 101)]
    # once windows are over, room is made for new sources (their counts come back to be written)
    for i in range(100):
        folder.hit(f"10.1.0.{i}", "not-dicom")
        folder.hit(f"10.1.0.{i}", "not-dicom")
    clock.now += 60
    write, over = folder.hit("10.2.0.1", "not-dicom")
    assert write and len(over) == 100 and len(folder) == 1


def test_node_alert_validates_and_names_only_the_address() -> None:
    record = node_alert(reporter="RADGUARD", host="127.0.0.5", description="before association: not-dicom",
                        details={"kind": "not-dicom", "count": "1"})
    schema = etree.RelaxNG(etree.parse(str(SCHEMA_PATH)))
    assert schema.validate(etree.fromstring(to_xml(record)))
    doc = to_json(record)
    assert doc["event"] == "110113" and doc["event_types"] == ["110126"]
    assert doc["objects"][0]["id"] == "127.0.0.5" and doc["objects"][0]["id_type"] == "110182"
