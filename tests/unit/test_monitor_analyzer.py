"""TCP reassembly and the analyzer on synthetic conversations built from the shared PDU codecs:
in order, shuffled, duplicated, with a lost segment, picked up mid-stream; sinks and the CLI."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from radguard.dicom import uids
from radguard.dicom.dimse import c_echo_rq, c_echo_rsp, c_find_rq, c_store_rq, c_store_rsp, fragment, response
from radguard.dicom.enums import ContextResult, Status
from radguard.dicom.pdu import AssociateAccept, AssociateRequest, PresentationContext, ReleaseRequest, ReleaseResponse
from radguard.monitor.analyzer import Analyzer
from radguard.monitor.decode import Segment, TCPFlag
from radguard.monitor.tcp import Reassembler
from tests.unit.test_monitor_capture import ipv4_tcp, link, write_pcap

RQ = AssociateRequest("PACS", "CT01", [PresentationContext(1, uids.VERIFICATION, [uids.IMPLICIT_VR_LITTLE_ENDIAN]),
                                       PresentationContext(3, uids.CT_IMAGE_STORAGE, [uids.IMPLICIT_VR_LITTLE_ENDIAN]),
                                       PresentationContext(5, uids.STUDY_ROOT_QR_FIND,
                                                           [uids.IMPLICIT_VR_LITTLE_ENDIAN])])
AC = AssociateAccept("PACS", "CT01", [PresentationContext(i, None, [uids.IMPLICIT_VR_LITTLE_ENDIAN],
                                                          ContextResult.ACCEPTANCE) for i in (1, 3, 5)])


def _element(tag: int, value: bytes) -> bytes:
    value += b" " * (len(value) % 2)
    return tag.to_bytes(4, "little")[2:] + tag.to_bytes(4, "little")[:2] + len(value).to_bytes(4, "little") + value


def _implicit(elements: dict[int, bytes]) -> bytes:
    out = b""
    for tag in sorted(elements):
        g, e = tag >> 16, tag & 0xFFFF
        v = elements[tag] + b" " * (len(elements[tag]) % 2)
        out += g.to_bytes(2, "little") + e.to_bytes(2, "little") + len(v).to_bytes(4, "little") + v
    return out


DATASET = _implicit({0x00080018: b"1.2.3.4", 0x00100010: b"Doe^Jane", 0x00100020: b"ID123", 0x00200010: b"S1",
                     0x7FE00010: bytes(40000)})
QUERY = _implicit({0x00080052: b"PATIENT", 0x00100010: b"*", 0x00100020: b""})
MATCH = _implicit({0x00080052: b"PATIENT", 0x00100010: b"Doe^Jane", 0x00100020: b"ID123"})


def conversation() -> list[tuple[bool, bytes]]:
    """(from_client, bytes) messages of one association: echo, store, find with 2 matches, release."""
    find = c_find_rq(3, uids.STUDY_ROOT_QR_FIND)
    return [
        (True, RQ.encode()), (False, AC.encode()),
        (True, b"".join(fragment(1, c_echo_rq(1).encode(), None, 16384))),
        (False, b"".join(fragment(1, c_echo_rsp(1).encode(), None, 16384))),
        (True, b"".join(fragment(3, c_store_rq(2, uids.CT_IMAGE_STORAGE, "1.2.3.4").encode(), DATASET, 16384))),
        (False, b"".join(fragment(3, c_store_rsp(2, uids.CT_IMAGE_STORAGE, "1.2.3.4").encode(), None, 16384))),
        (True, b"".join(fragment(5, find.encode(), QUERY, 16384))),
        (False, b"".join(fragment(5, response(find, Status.PENDING, has_dataset=True).encode(), MATCH, 16384))),
        (False, b"".join(fragment(5, response(find, Status.PENDING, has_dataset=True).encode(), MATCH, 16384))),
        (False, b"".join(fragment(5, response(find, Status.SUCCESS).encode(), None, 16384))),
        (True, ReleaseRequest().encode()), (False, ReleaseResponse().encode()),
    ]


def segments(messages: Sequence[tuple[bool, bytes]], *, mss: int = 1400, handshake: bool = True,
             cport: int = 40000) -> list[Segment]:
    seq = {True: 1_000_000, False: 4_294_960_000}  # the server's sequence numbers wrap around 2**32
    out: list[Segment] = []
    t = 1700000000.0

    def seg(from_client: bool, flags: int, payload: bytes = b"") -> Segment:
        nonlocal t
        t += 0.001
        src, sport, dst, dport = ("10.0.0.1", cport, "10.0.0.2", 104) if from_client else (
            "10.0.0.2", 104, "10.0.0.1", cport)
        ack = seq[not from_client] % 2**32 if flags & TCPFlag.ACK else 0
        s = Segment(t, src, sport, dst, dport, seq[from_client] % 2**32, ack, flags, payload)
        seq[from_client] += len(payload) + (1 if flags & (TCPFlag.SYN | TCPFlag.FIN) else 0)
        return s

    if handshake:
        out += [seg(True, TCPFlag.SYN), seg(False, TCPFlag.SYN | TCPFlag.ACK), seg(True, TCPFlag.ACK)]
    for from_client, data in messages:
        for i in range(0, len(data), mss):
            out.append(seg(from_client, TCPFlag.ACK | TCPFlag.PSH, data[i:i + mss]))
    out += [seg(True, TCPFlag.FIN | TCPFlag.ACK), seg(False, TCPFlag.FIN | TCPFlag.ACK)]
    return out


def run(segs: Sequence[Segment]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    analyzer = Analyzer(records.append)
    for s in segs:
        analyzer.feed_segment(s)
    analyzer.finish()
    return records


def summary(records: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["kind"], r.get("command"), r.get("status"), r.get("matches"), r.get("objects"),
             json.dumps(r.get("phi_attributes"), sort_keys=True)) for r in records]


EXPECTED = [
    ("dimse", "C-ECHO", 0, 0, 0, "{}"),
    ("dimse", "C-STORE", 0, 0, 1, '{"PatientID": 1, "PatientName": 1}'),
    ("dimse", "C-FIND", 0, 2, 0, '{"PatientID": 2, "PatientName": 2}'),
    ("association", None, None, None, None, '{"PatientID": 3, "PatientName": 3}'),
]


def test_in_order() -> None:
    records = run(segments(conversation()))
    assert summary(records) == EXPECTED
    assoc = records[-1]
    assert (assoc["calling_ae"], assoc["called_ae"], assoc["result"], assoc["end"], assoc["partial"],
            assoc["objects_stored"], assoc["commands"]) == (
        "CT01", "PACS", "accepted", "released", False, 1, {"C-ECHO": 1, "C-STORE": 1, "C-FIND": 1})
    assert (assoc["client"], assoc["server"], assoc["server_port"]) == ("10.0.0.1", "10.0.0.2", 104)
    find = records[2]
    assert find["query"] == {"level": "PATIENT", "restrictive_keys": [], "wildcard_keys": ["PatientName"],
                             "return_keys": 1, "broad": True}
    assert records[1]["sop_instance"].startswith("hmac:") and "Doe" not in json.dumps(records)


def test_out_of_order_and_retransmissions() -> None:
    segs = segments(conversation(), mss=700)
    body = segs[3:-2]
    rng = random.Random(7)
    shuffled: list[Segment] = []
    run_: list[Segment] = []
    for seg in [*body, None]:  # reorder each flight (same direction), and retransmit one segment of it
        if run_ and (seg is None or seg.src != run_[0].src):
            rng.shuffle(run_)
            shuffled += [*run_, run_[0]]
            run_ = []
        if seg is not None:
            run_.append(seg)
    assert shuffled != body
    records = run(segs[:3] + shuffled + segs[-2:])
    assert summary(records) == EXPECTED
    assert records[-1]["gaps"] == 0 and not records[-1]["partial"]


def test_lost_segment_resynchronises() -> None:
    segs = segments(conversation(), mss=1000)
    store_data = [i for i, s in enumerate(segs) if len(s.payload) == 1000 and s.src == "10.0.0.1"]
    del segs[store_data[5]]  # lose a piece of the C-STORE data set
    records = run(segs)
    kinds = [(r["kind"], r.get("command")) for r in records]
    assert ("dimse", "C-FIND") in kinds and ("dimse", "C-ECHO") in kinds
    assoc = records[-1]
    assert assoc["gaps"] == 1 and assoc["partial"]


def test_mid_stream_pickup() -> None:
    messages = conversation()[2:]  # the capture starts after the association was negotiated
    records = run(segments(messages, handshake=False))
    assert [r.get("command") for r in records if r["kind"] == "dimse"] == ["C-ECHO", "C-STORE", "C-FIND"]
    assoc = records[-1]
    assert assoc["partial"] and assoc["calling_ae"] is None and assoc["result"] == "accepted"


def test_reassembler_gap_and_overlap() -> None:
    got: list[Any] = []
    r = Reassembler(lambda c, d: got.append(d), lambda c, n: got.append(n), max_pending=10)
    mk = lambda seq, data: Segment(0, "a", 1, "b", 2, seq, 0, TCPFlag.ACK, data)  # noqa: E731
    r.add(True, mk(100, b"abc"))
    r.add(True, mk(101, b"bcdef"))  # overlap
    r.add(True, mk(110, b"xyz"))  # hole of 104..110 held
    assert got == [b"abc", b"def"]
    r.add(True, mk(120, b"0123456789"))  # pending above the bound: declare the gap
    assert got[2:] == [4, b"xyz"]
    r.flush()  # end of the connection: the last hole is a gap too
    assert got[4:] == [7, b"0123456789"]


def _pcap(tmp_path: Path) -> Path:
    frames = [(s.ts, link(1, ipv4_tcp(s.src, s.sport, s.dst, s.dport, s.seq, s.flags, s.payload)))
              for s in segments(conversation())]
    path = tmp_path / "x.pcap"
    path.write_bytes(write_pcap(frames))
    return path


def test_cli_json_records_zeek(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from radguard.cli.main import main

    pcap = _pcap(tmp_path)
    capsys.readouterr()
    code = main(["pcap", str(pcap), "--json", "--records", str(tmp_path / "r.jsonl"),
                 "--zeek-log", str(tmp_path / "zeek")])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1  # cleartext-phi and query-harvesting are high
    assert doc["schema"] == "radguard.pcap/1"
    assert sorted(f["rule"] for f in doc["findings"]) == ["cleartext-phi", "query-harvesting"]
    phi = next(f for f in doc["findings"] if f["rule"] == "cleartext-phi")
    assert phi["target"] == "10.0.0.2:104" and phi["evidence"]["attributes"] == {"PatientID": 3, "PatientName": 3}
    assert summary(doc["records"]) == EXPECTED
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert [json.loads(x)["kind"] for x in lines] == ["dimse", "dimse", "dimse", "association"]
    zeek = (tmp_path / "zeek" / "dicom.log").read_text().splitlines()
    fields = zeek[6].split("\t")[1:]
    rows = [dict(zip(fields, line.split("\t"), strict=True)) for line in zeek if not line.startswith("#")]
    assert [(r["kind"], r["command"], r["id.resp_p"]) for r in rows] == [
        ("dimse", "C-ECHO", "104"), ("dimse", "C-STORE", "104"), ("dimse", "C-FIND", "104"),
        ("association", "-", "104")]
    assert zeek[-1].startswith("#close")
    # the run is in the store, with alert events
    from radguard.store import open_store

    store = open_store()
    run_info = store.latest_run("pcap")
    assert run_info is not None and run_info.id == doc["run"]
    assert {f.rule for f in store.findings(run_info.id)} == {"cleartext-phi", "query-harvesting"}
    assert {e.attributes["rule"] for e in store.events(kind="alert")} >= {"cleartext-phi", "query-harvesting"}
    from radguard.monitor.records_store import load_records

    assert [r["kind"] for r in load_records(store, run_info.id)] == ["association", "dimse", "dimse", "dimse"]
    assert [r["command"] for r in load_records(store, run_info.id, kind="dimse")] == ["C-ECHO", "C-STORE", "C-FIND"]
    (asset,) = store.assets(run_info.id)
    assert (asset.kind, asset.target, asset.attributes["called_ae_titles"]) == ("dicom", "10.0.0.2:104", ["PACS"])


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from radguard.cli.main import main

    assert main(["pcap", str(tmp_path / "missing.pcap")]) == 2
    pcap = _pcap(tmp_path)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(pcap.read_bytes()[:-3000])
    capsys.readouterr()
    code = main(["pcap", str(cut), "--json", "--no-store", "--profile", "none"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["findings"] == [] and "truncated" in doc["errors"][0]["error"]
    assert [r.get("command") for r in doc["records"] if r["kind"] == "dimse"][:2] == ["C-ECHO", "C-STORE"]
    assert main(["pcap", str(pcap), "--threshold", "bogus"]) == 2
    assert main(["pcap", str(pcap), "--threshold", "ae-brute-force.nope=1"]) == 2
    assert main(["pcap", str(pcap), "--profile", "nonsense"]) == 2


def test_findings_become_security_alert_audit_messages(tmp_path: Path) -> None:
    import socket

    from radguard.cli.main import main

    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(10)
    audit = tmp_path / "audit.jsonl"
    code = main(["pcap", str(_pcap(tmp_path)), "--no-store", "--audit-file", str(audit),
                 "--audit-syslog", f"udp://127.0.0.1:{listener.getsockname()[1]}"])
    assert code == 1
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert len(lines) == 2
    text = json.dumps(lines)
    assert "110113" in text and "cleartext-phi" in text and "query-harvesting" in text and "Doe" not in text
    received = [listener.recv(65536), listener.recv(65536)]
    listener.close()
    assert all(b"110113" in m for m in received)  # EventID Security Alert (DCM 110113), PS3.15 A.5.3.13


def test_hostile_segments_never_crash() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    base = b"".join(d for _, d in conversation())

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(st.booleans(), st.integers(0, 2**32 - 1), st.integers(0, 0x3F),
                              st.integers(0, len(base)), st.binary(max_size=64)), max_size=30))
    def check(items: list[tuple[bool, int, int, int, bytes]]) -> None:
        records: list[dict[str, Any]] = []
        analyzer = Analyzer(records.append)
        t = 1700000000.0
        for from_client, seq, flags, cut, junk in items:
            t += 0.01
            payload = base[cut:cut + 200] + junk if junk[:1] != b"\x00" else junk
            src, sport, dst, dport = ("10.0.0.1", 4000, "10.0.0.2", 104) if from_client else (
                "10.0.0.2", 104, "10.0.0.1", 4000)
            analyzer.feed_segment(Segment(t, src, sport, dst, dport, seq, seq ^ 0x5555, flags, payload))
        analyzer.finish()
        json.dumps(records)  # every record is JSON-ready

    check()


def test_corrupted_capture_files_are_results(tmp_path: Path) -> None:
    from radguard.monitor.analyzer import analyze

    good = _pcap(tmp_path).read_bytes()
    rng = random.Random(11)
    for i in range(60):
        bad = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        path = tmp_path / f"bad{i}.pcap"
        path.write_bytes(bytes(bad[: rng.randrange(len(bad))] if i % 3 == 0 else bad))
        result = analyze([path])  # never raises: damage is an error entry, records up to it are kept
        json.dumps(result.records)
        assert all(set(e) == {"file", "error"} for e in result.errors)


def test_syn_flood_is_bounded() -> None:
    records: list[dict[str, Any]] = []
    analyzer = Analyzer(records.append, max_flows=100)
    for i in range(1000):
        analyzer.feed_segment(Segment(1700000000.0 + i / 1000, "10.9.0.1", 1024 + i, "10.0.0.2", 104, i, 0,
                                      TCPFlag.SYN, b""))
        assert len(analyzer.flows) <= 101
    analyzer.finish()
    assert len(records) == 1000 and {r["state"] for r in records} == {"syn-sent"}


@pytest.mark.parametrize("inspect_max", [10**9, 20000, 100])
def test_inspected_store_reads_the_same_head(monkeypatch: pytest.MonkeyPatch, inspect_max: int) -> None:
    """With an inspector the head of a C-STORE data set is cut from the whole data set, or (above the
    inspection limit, reached part-way) from the fragments held so far: the records say what they say
    without an inspector, plus the inspection."""
    from radguard.monitor import conversation as conv

    monkeypatch.setattr(conv, "INSPECT_MAX", inspect_max)
    seen: list[bytes] = []

    def inspector(data: bytes, transfer_syntax: str | None) -> list[dict[str, Any]]:
        seen.append(data)
        return []

    def records(inspect: conv.Inspector | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        analyzer = Analyzer(out.append, inspect=inspect)
        for s in segments(conversation(), mss=997):
            analyzer.feed_segment(s)
        analyzer.finish()
        return out

    plain, inspected = records(None), records(inspector)
    assert summary(inspected) == summary(plain) == EXPECTED
    store = next(r for r in inspected if r.get("command") == "C-STORE")
    if inspect_max > len(DATASET):
        assert seen == [DATASET] and store["inspection"] == []
    else:
        assert not seen and store["inspection"][0]["rule"] == "not-inspected"
    for r in inspected:
        r.pop("inspection", None)
    assert inspected == plain
