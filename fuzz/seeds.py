"""Seed inputs of the fuzz targets, generated (never committed in bulk), local only.

    python -m fuzz.seeds OUTDIR [TARGET ...] [--captures DIR]

Sources: pydicom's bundled test files (``radguard.range.samples.bundled_files``: the files pydicom ships,
nothing downloaded), radguard's threat corpus (tests/support/corpus.py: polyglots, bad VRs, truncations,
active content), DICOM associations encoded by radguard's own PDU/DIMSE codecs (tests/support/wire.py),
written as pcap and pcapng frames over several link layers, and, with ``--captures``, the pcap files that
tests/captures/make_captures.py records while real DCMTK peers talk (the golden-capture scenarios).
Each target's input format is in its script's docstring; the first byte often picks a mode.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from fuzz.common import REQUEST_CONTEXTS, TRANSFER_SYNTAXES
from radguard.dicom.pdu import AssociateRequest, PresentationContext
from radguard.monitor.decode import Segment

Seeds = Iterator[tuple[str, bytes]]
#: seeds longer than this are cut (the targets' -max_len is 64 KiB or more)
CUT = 65535


def _dicom_files() -> list[tuple[str, bytes]]:
    from radguard.range.samples import bundled_files

    return [(p.name, p.read_bytes()[:CUT]) for p in bundled_files("*") if p.suffix in ("", ".dcm")]


def _threats() -> list[tuple[str, bytes]]:
    from tests.support.corpus import THREATS

    return [(t.name, t.build()[:CUT]) for t in THREATS]


def _bodies() -> Seeds:
    """Bare data sets (what C-STORE carries) with the mode byte of their transfer syntax."""
    from radguard.dicom.part10 import parse

    for name, data in _dicom_files():
        p = parse(data)
        if p.meta and not p.issue and str(p.transfer_syntax) in TRANSFER_SYNTAXES:
            mode = 1 + TRANSFER_SYNTAXES.index(str(p.transfer_syntax))
            yield f"bare-{name}", bytes([mode]) + bytes(data[p.meta_end:])


def part10() -> Seeds:
    """fuzz_part10 and fuzz_dataset: mode byte 0 (a Part 10 file) or 1.. (a bare data set)."""
    for name, data in [*_dicom_files(), *_threats()]:
        yield f"file-{name}", b"\0" + data
    yield from _bodies()


# ---- DICOM on the wire -------------------------------------------------------------------------------
def _request() -> AssociateRequest:
    """The A-ASSOCIATE-RQ fuzz_ul's REQUESTOR machine sends first."""
    return AssociateRequest("PACS", "FUZZ", [PresentationContext(cid, uid, ["1.2.840.10008.1.2"])
                                             for cid, uid in REQUEST_CONTEXTS])


def _conversations() -> dict[str, list[tuple[bool, bytes]]]:
    """(from the client, bytes) of a few associations, by radguard's codecs (tests/support/wire.py)."""
    from tests.support import wire

    from radguard.dicom.enums import AbortSource, RejectReason
    from radguard.dicom.pdu import Abort, ReleaseRequest, ReleaseResponse

    def association(request: AssociateRequest, *ops: list[tuple[bool, bytes]]) -> list[tuple[bool, bytes]]:
        out = [(True, request.encode()), (False, wire.ac(request).encode())]
        for op in ops:
            out += op
        return [*out, (True, ReleaseRequest().encode()), (False, ReleaseResponse().encode())]

    rq = wire.rq()
    return {
        "echo": association(rq, wire.echo()),
        "store": association(rq, wire.store(wire.image(pixels=512))),
        "find": association(rq, wire.find(wire.query(PatientName="Doe*", PatientID=""), [wire.query()])),
        "move": association(rq, wire.move("WS01", 2)),
        "reject": [(True, rq.encode()), (False, wire.rj(RejectReason.CALLED_AE_NOT_RECOGNIZED).encode())],
        "abort": [(True, rq.encode()), (True, Abort(AbortSource.SERVICE_USER, 0).encode())],
        "own-request": association(_request(), wire.echo(), wire.store(wire.image(pixels=256))),
    }


def ul() -> Seeds:
    """fuzz_ul: mode byte (machine, chunk size) + one side's stream."""
    for name, messages in _conversations().items():
        client = b"".join(d for c, d in messages if c)
        server = b"".join(d for c, d in messages if not c)
        for chunk in (0, 7, 63):
            yield f"acceptor-{name}-{chunk}", bytes([chunk << 2]) + client
            yield f"observer-{name}-{chunk}", bytes([2 | chunk << 2]) + client
        if name == "own-request":  # the REQUESTOR machine sent fuzz_ul's request: answer it
            yield f"requestor-{name}", b"\x01" + server
        first = next((i for i, (c, _) in enumerate(messages) if c and i >= 2), None)
        if first is not None:  # a capture started after the association was negotiated
            yield f"midstream-{name}", b"\x03" + b"".join(d for c, d in messages[first:] if c)


# ---- captures ----------------------------------------------------------------------------------------
def _frame(seg: Segment, link: int) -> bytes:
    """A TCP/IP frame (no checksums: radguard does not verify them, like tcpdump captures of offloaded NICs)."""
    src = ipaddress.ip_address(seg.src)
    dst = ipaddress.ip_address(seg.dst)
    tcp = struct.pack(">HHLLHHHH", seg.sport, seg.dport, seg.seq, seg.ack,
                      (5 << 12) | seg.flags, 65535, 0, 0) + seg.payload
    if src.version == 4:
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src.packed, dst.packed)
        ethertype, family = 0x0800, 2
    else:
        ip = struct.pack(">LHBB16s16s", 6 << 28, len(tcp), 6, 64, src.packed, dst.packed)
        ethertype, family = 0x86DD, 30
    packet = ip + tcp
    if link == 1:  # Ethernet, with one 802.1Q tag on IPv6 frames
        vlan = struct.pack(">HH", 0x8100, 42) if src.version == 6 else b""
        return bytes(6) + b"\x02" + bytes(5) + vlan + struct.pack(">H", ethertype) + packet
    if link == 0:  # BSD loopback, host byte order (little endian)
        return struct.pack("<L", family) + packet
    if link == 113:  # Linux cooked v1
        return struct.pack(">HHH8sH", 0, 772, 6, bytes(8), ethertype) + packet
    return packet  # 101: raw IP


def _segments() -> dict[str, list[Segment]]:
    from tests.support import wire

    out: dict[str, list[Segment]] = {}
    for name, messages in _conversations().items():
        traffic = wire.Traffic()
        v6 = name in ("find", "abort")
        traffic.connection(messages, client="fd00::9" if v6 else "10.0.0.9", server="fd00::2" if v6 else "10.0.0.2",
                           mss=1000 if name == "store" else 1400)
        out[name] = traffic.segments
    traffic = wire.Traffic()
    traffic.refused(client="10.0.0.9", server="10.0.0.2")
    out["refused"] = traffic.segments
    segs = out["store"]
    out["store-reordered"] = [*segs[:4], segs[5], segs[4], *segs[6:]]
    out["store-midstream"] = segs[6:]
    return out


def _pcap(frames: list[tuple[float, bytes]], link: int, *, nanos: bool, big: bool) -> bytes:
    order = ">" if big else "<"
    out = [struct.pack(order + "LHHlLLL", 0xA1B23C4D if nanos else 0xA1B2C3D4, 2, 4, 0, 0, 262144, link)]
    for ts, data in frames:
        sec = int(ts)
        frac = round((ts - sec) * (1e9 if nanos else 1e6))
        out.append(struct.pack(order + "LLLL", sec, frac, len(data), len(data)) + data)
    return b"".join(out)


def _block(kind: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack("<LL", kind, len(body) + 12) + body + struct.pack("<L", len(body) + 12)


def _pcapng(frames: list[tuple[float, bytes]], link: int, *, simple: bool = False) -> bytes:
    options = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HHq", 14, 8, 0) + bytes(4)  # if_tsresol 1e-9
    out = [_block(0x0A0D0D0A, struct.pack("<LHHq", 0x1A2B3C4D, 1, 0, -1)),
           _block(1, struct.pack("<HHL", link, 0, 262144) + options)]
    for ts, data in frames:
        if simple:
            out.append(_block(3, struct.pack("<L", len(data)) + data))
            continue
        ticks = round(ts * 1e9)
        out.append(_block(6, struct.pack("<LLLLL", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + data))
    return b"".join(out)


def pcap(captures: Path | None = None) -> Seeds:
    """fuzz_pcap: whole capture files."""
    for name, segments in _segments().items():
        for link in (1, 0, 113, 101):
            frames = [(s.ts, _frame(s, link)) for s in segments]
            yield f"{name}-link{link}.pcap", _pcap(frames, link, nanos=link == 101, big=link == 113)
            if link in (1, 101):
                yield f"{name}-link{link}.pcapng", _pcapng(frames, link, simple=name == "refused")
    for path in sorted(captures.glob("*.pcap")) if captures else ():
        yield f"capture-{path.name}", path.read_bytes()[:CUT]


def tcp() -> Seeds:
    """fuzz_tcp: bytes read by atheris' FuzzedDataProvider (any bytes are a valid input)."""
    rng = random.Random(20261206)
    for size in (16, 64, 256, 1024, 4096):
        yield f"random-{size}", rng.randbytes(size)


def config() -> Seeds:
    """fuzz_config: gateway.toml texts (the example, every section and key, and a few near misses)."""
    root = Path(__file__).resolve().parents[1]
    example = (root / "examples" / "gateway.toml").read_bytes()
    yield "example.toml", example
    full = b"""[gateway]
listen = "127.0.0.1:11112"
listen_tls = "[::1]:2762"
upstream = "127.0.0.1:4242"
upstream_ae = "ORTHANC"
ae_title = "RADGUARD"
control = "gw.sock"
token_file = "~/token"
spool = "spool"

[[peer]]
ae = "CT01"
hosts = ["127.0.0.1", "10.0.0.0/24", "::1"]
allow = ["C-ECHO", "C-STORE", "c-find"]

[[peer]]
ae = "WS01"
hosts = ["10.1.2.3"]
port = 11113
allow = ["C-MOVE", "C-GET"]
move_destinations = ["WS01", "CT01"]
sop_classes = ["1.2.840.10008.5.1.4.1.2.2.2", "1.2.840.10008.5.1.4.1.2.2.3"]
associations_per_minute = 30
requests_per_minute = 600

[limits]
associations_per_minute = 120
max_associations = 200
max_pending_per_host = 32
max_pdu_length = 1048576
connect_timeout = 10.0
idle_timeout = 300

[inspection]
enabled = true
executable = "reject"
active_content = "quarantine"
malformed = "alert"
other = "alert"
quarantine = "quarantine"

[audit]
file = "audit.jsonl"
syslog = "tls://127.0.0.1:6514"
include_patient_id = false
spool = "audit-spool"
site_id = "site-1"
store = "all"
"""
    yield "full.toml", full
    yield "syslog-udp.toml", full.replace(b"tls://127.0.0.1:6514", b"udp://[::1]:514")
    yield "bad-port.toml", full.replace(b"port = 11113", b"port = 70000")
    yield "unknown-key.toml", full + b"\n[limits]\nfoo = 1\n"
    yield "no-gateway.toml", full.replace(b"[gateway]", b"[gw]")


GENERATORS: dict[str, Callable[[], Seeds]] = {
    "ul": ul, "part10": part10, "dataset": part10, "pcap": pcap, "tcp": tcp, "config": config,
}


def write(target: str, directory: Path, *, captures: Path | None = None) -> int:
    """Write ``target``'s seeds into ``directory`` once (an existing, non-empty directory is kept)."""
    if directory.is_dir() and any(directory.iterdir()):
        return sum(1 for _ in directory.iterdir())
    directory.mkdir(parents=True, exist_ok=True)
    from radguard.range.samples import disable_downloads

    disable_downloads()
    seeds = pcap(captures) if target == "pcap" else GENERATORS[target]()
    n = 0
    for name, data in seeds:
        (directory / name.replace("/", "_")).write_bytes(data)
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("targets", nargs="*", default=list(GENERATORS))
    parser.add_argument("--captures", type=Path)
    args = parser.parse_args(argv)
    for target in args.targets:
        n = write(target, args.outdir / target, captures=args.captures)
        print(f"{target}: {n} seeds in {args.outdir / target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
