"""Benchmark: ``radguard pcap`` vs Wireshark's ``tshark`` on the same DICOM captures (issue 15).

Goals (issue 15): on a small capture (1,000 C-STOREs of pydicom's CT_small, 39 kB each, ~40 MB) and a
large one (200 objects of ~1.2 MB, ~250 MB), radguard is >= 2x faster than ``tshark -T fields -e
dicom.tag`` and >= 5x faster than ``tshark -T json``, both tools decoding DICOM on the capture's port.

The captures are made by this script: tcpdump on loopback while DCMTK storescu sends the objects to
storescp (one association each), kept with ``--keep DIR`` and reused with ``--captures DIR``. Timed as
fresh processes on a warm page cache, interleaved (radguard, fields, json, radguard, ...), medians of
``--runs`` (>= 3) runs; the load average is printed before and after, since the machine is shared:
  radguard pcap FILE --json --no-store --dicom-port P     (records + the default detections, the
                                                          archive checks on every C-STORE object included)
  tshark -r FILE -d tcp.port==P,dicom -T fields -e dicom.tag
  tshark -r FILE -d tcp.port==P,dicom -T json
both tshark runs with ``-o tcp.reassemble_out_of_order:TRUE`` (loopback captures hold out-of-order
segments; without it Wireshark silently drops the DIMSE messages they carry). ``--before SRC`` adds the
radguard of another checkout (its ``src`` directory, compiled extension included) as a fourth contender.

``--big``: flat memory. A 2 GB capture is written under /tmp by replicating the large capture's
connection (each copy on its own client port, so each is a new TCP connection); ``radguard pcap
--records FILE.jsonl`` (records streamed to JSON Lines and to a throw-away store) runs on one copy and on
the 2 GB capture, and peak RSS (GNU time) of both is printed: flat memory = the same peak for 8x the bytes.

Live (``--live``): ``radguard monitor -i lo`` while CT_small objects are sent, then whether every
C-STORE was recorded without a gap, and the sustained rate.

    .venv/bin/python benchmarks/pcap_vs_tshark.py [--runs 3] [--keep DIR | --captures DIR] [--big] [--live]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from pydicom import dcmread  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402
from tests.captures.make_captures import TSHARK_OPTIONS, run, tcpdump  # noqa: E402
from tests.support.peers import LOOPBACK, start_storescp  # noqa: E402

from radguard.monitor.streaming import DETECT_WINDOW  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")
RADGUARD = str(ROOT / ".venv" / "bin" / "radguard")  # with --src, PYTHONPATH chooses the code it runs
#: (name, objects, MiB per object or None for CT_small as it is)
SHAPES = (("small", 1000, None), ("large", 200, 1.2))


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(cmd: list[str], out_path: Path, env: dict[str, str] | None = None) -> tuple[float, int, float]:
    """Run ``cmd`` with stdout to ``out_path``; (wall seconds, peak RSS KiB, CPU seconds user+sys) as GNU
    time reports them (CPU time: on a loaded machine the wall time is mostly waiting for a core).

    GNU time rather than wait4() on our own child: a child forked from this (large) Python process
    reports the parent's pages in its maximum RSS until it execs.
    """
    stats = out_path.with_suffix(".time")
    with out_path.open("wb") as out:
        proc = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", str(stats), *cmd], stdout=out,
                              stderr=subprocess.DEVNULL, check=False, env=env)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}")
    wall, rss, user, system = stats.read_text().split()[-4:]
    return float(wall), int(rss), float(user) + float(system)


def make_objects(workdir: Path, count: int, mib_each: float) -> list[Path]:
    """``count`` synthetic CT objects of ~``mib_each`` MiB (unique UIDs) made from CT_small."""
    base = dcmread(get_testdata_file("CT_small.dcm"))
    side = int((mib_each * 1024 * 1024 / 2) ** 0.5)
    files = []
    for i in range(count):
        ds = base.copy()
        ds.Rows = ds.Columns = side
        ds.PixelData = np.random.default_rng(i).integers(0, 4096, side * side, dtype=np.uint16).tobytes()
        ds.SOPInstanceUID = generate_uid()
        path = workdir / f"obj{i}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def make_capture(workdir: Path, name: str, count: int, mib_each: float | None) -> tuple[Path, int]:
    """tcpdump on loopback while storescu sends ``count`` objects in one association; (pcap, SCP port)."""
    workdir.mkdir(parents=True, exist_ok=True)
    scp = start_storescp(workdir)
    files = ([get_testdata_file("CT_small.dcm")] * count if mib_each is None
             else list(map(str, make_objects(workdir, count, mib_each))))
    pcap = workdir / f"{name}.pcap"
    try:
        with tcpdump(pcap, [scp.port]):
            run(["storescu", "-aet", "CT01", "-aec", scp.ae, LOOPBACK, str(scp.port), *map(str, files)])
    finally:
        scp.stop()
    return pcap, scp.port


def stored(doc: dict[str, object]) -> int:
    return sum(1 for r in doc["records"] if r.get("command") == "C-STORE" and r.get("status") == 0)  # type: ignore


def compare(pcap: Path, port: int, expected: int, runs: int, work: Path, before: Path | None) -> dict[str, float]:
    """Interleaved runs of every contender on one capture; prints medians and ratios; returns the medians."""
    decode = [*TSHARK_OPTIONS, "-d", f"tcp.port=={port},dicom"]
    rg = ["pcap", str(pcap), "--json", "--no-store", "--dicom-port", str(port)]
    contenders: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "radguard": ([RADGUARD, *rg], None),
        "tshark -T fields -e dicom.tag": (["tshark", "-r", str(pcap), *decode, "-T", "fields", "-e", "dicom.tag"],
                                          None),
        "tshark -T json": (["tshark", "-r", str(pcap), *decode, "-T", "json"], None),
    }
    if before is not None:
        env = {**os.environ, "PYTHONPATH": str(before)}
        contenders["radguard (before)"] = ([PYTHON, "-c", "from radguard.cli.main import run; run()", *rg], env)
    times: dict[str, list[float]] = {k: [] for k in contenders}
    cpus: dict[str, list[float]] = {k: [] for k in contenders}
    rss: dict[str, list[int]] = {k: [] for k in contenders}
    pcap.read_bytes()  # warm the page cache for every contender
    print(f"{pcap.name}: {pcap.stat().st_size / 1e6:.1f} MB, {expected} C-STOREs; load average before {load()}")
    for _ in range(runs):
        for i, (name, (cmd, env)) in enumerate(contenders.items()):
            t, r, c = timed(cmd, work / f"out{i}.txt", env)
            times[name].append(t)
            cpus[name].append(c)
            rss[name].append(r)
            if name.startswith("radguard"):
                got = stored(json.loads((work / f"out{i}.txt").read_text()))
                if got != expected:
                    raise RuntimeError(f"{name} recorded {got} of {expected} C-STOREs")
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    for name in contenders:
        print(f"  {name:32}: median {med[name]:7.2f} s wall, {cpu[name]:6.2f} s CPU  "
              f"(runs {', '.join(f'{t:.2f}' for t in times[name])})  peak RSS {max(rss[name]) / 1024:7.1f} MiB")
    fields, js = "tshark -T fields -e dicom.tag", "tshark -T json"
    for who in [k for k in contenders if k.startswith("radguard")]:
        print(f"  {who}: {med[fields] / med[who]:5.2f}x faster than tshark -T fields (goal >= 2), "
              f"{med[js] / med[who]:5.2f}x faster than tshark -T json (goal >= 5); in CPU time "
              f"{cpu[fields] / cpu[who]:5.2f}x and {cpu[js] / cpu[who]:5.2f}x")
    print(f"  load average after {load()}")
    return med


def replicate(src: Path, dest: Path, target_bytes: int) -> int:
    """Write ``dest``: the frames of ``src`` (one Ethernet/IPv4 TCP connection) repeated until ``target_bytes``,
    copy k on client port ``base + k`` and timestamps shifted; returns the number of copies."""
    data = src.read_bytes()
    header, body = data[:24], data[24:]
    frames: list[tuple[int, int, bytes, bool]] = []  # (sec, usec, frame, from the client)
    pos = 0
    client_port = None
    while pos < len(body):
        sec, usec, incl, _orig = struct.unpack_from("<LLLL", body, pos)
        frame = body[pos + 16:pos + 16 + incl]
        ihl = (frame[14] & 0x0F) * 4
        sport = struct.unpack_from(">H", frame, 14 + ihl)[0]
        client_port = client_port or sport  # the first frame is the client's SYN
        frames.append((sec, usec, frame, sport == client_port))
        pos += 16 + incl
    span = frames[-1][0] - frames[0][0] + 1
    copies = max(1, target_bytes // len(body))
    with dest.open("wb") as out:
        out.write(header)
        for k in range(copies):
            port = 20000 + k
            for sec, usec, frame, from_client in frames:
                ihl = (frame[14] & 0x0F) * 4
                at = 14 + ihl + (0 if from_client else 2)
                frame = frame[:at] + struct.pack(">H", port) + frame[at + 2:]
                out.write(struct.pack("<LLLL", sec + k * span, usec, len(frame), len(frame)))
                out.write(frame)
    return copies


def flat_memory(shapes: dict[str, tuple[Path, int, int]], work: Path) -> None:
    """Peak RSS of ``radguard pcap --records`` (and the store) on one copy of a capture and on ~2 GB of copies."""
    for name, (capture, port, _count) in shapes.items():
        big = Path(tempfile.mkdtemp(prefix="pcap2g-", dir="/tmp"))
        try:
            env = {**os.environ, "RADGUARD_DB": f"sqlite:///{big / 'store.db'}"}
            one = big / "one.pcap"
            replicate(capture, one, 1)
            two_gb = big / "2gb.pcap"
            copies = replicate(capture, two_gb, 2 * 1000**3)
            results = []
            for pcap in (one, two_gb):
                records = big / f"{pcap.stem}.jsonl"
                t, rss, cpu = timed([RADGUARD, "pcap", str(pcap), "--records", str(records), "--dicom-port",
                                     str(port)], work / "big.txt", env)
                lines = sum(1 for _ in records.open())
                size = pcap.stat().st_size
                results.append((rss, lines))
                print(f"  {name} x {1 if pcap is one else copies:>2}: {size / 1e6:7.1f} MB, {t:6.1f} s wall, "
                      f"{cpu:6.1f} s CPU, peak RSS {rss / 1024:6.1f} MiB, {lines} records streamed "
                      f"({size / 1e6 / cpu:.0f} MB per CPU second)")
                pcap.unlink()
            (rss1, n1), (rss2, n2) = results
            print(f"  peak RSS ratio 2 GB vs one copy = {rss2 / rss1:.2f} (flat memory: close to 1.0); "
                  f"{max(0, rss2 - rss1) / max(1, n2 - n1):.2f} KiB more per record (the detections' window holds at "
                  f"most {DETECT_WINDOW} records); load average {load()}")
        finally:
            shutil.rmtree(big, ignore_errors=True)


def live(target_mb: int) -> bool:
    """radguard monitor on loopback while storescu sends ~``target_mb`` of CT_small objects: nothing lost?

    Sustained load of many objects (one association, ~25 objects per MB), the shape of a modality or a
    PACS migration, rather than one burst of huge objects.
    """
    small = get_testdata_file("CT_small.dcm")
    count = target_mb * 25
    with tempfile.TemporaryDirectory(prefix="pcaplive-") as tmp:
        work = Path(tmp)
        scp = start_storescp(work)
        monitor = subprocess.Popen([RADGUARD, "monitor", "-i", "lo", "--filter", f"tcp port {scp.port}",
                                    "--duration", "600", "--json", "--no-store", "--profile", "none"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(2)
        t0 = time.perf_counter()
        run(["storescu", "-aet", "CT01", "-aec", scp.ae, LOOPBACK, str(scp.port), *[small] * count])
        sent = time.perf_counter() - t0
        time.sleep(1)
        monitor.send_signal(signal.SIGINT)
        out, _ = monitor.communicate(timeout=300)
        scp.stop()
    doc = json.loads(out)
    stores = [r for r in doc["records"] if r.get("command") == "C-STORE" and r.get("status") == 0]
    gaps = sum(int(r.get("gaps") or 0) for r in doc["records"])
    mb = count * Path(small).stat().st_size / 1e6
    print(f"live: {len(stores)}/{count} C-STOREs recorded, {gaps} gaps, {mb:.0f} MB at {mb / sent:.0f} MB/s "
          f"({count / sent:.0f} objects/s) over loopback")
    return len(stores) == count and gaps == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs per contender (median; >= 3)")
    parser.add_argument("--keep", type=Path, help="keep the captures in this directory")
    parser.add_argument("--captures", type=Path, help="reuse the captures --keep wrote to this directory")
    parser.add_argument("--before", type=Path, help="also time the radguard of this src directory")
    parser.add_argument("--src", type=Path, help="time the radguard of this src directory (a frozen copy of this "
                        "checkout, so that editing it meanwhile changes nothing)")
    parser.add_argument("--big", action="store_true", help="also the 2 GB flat-memory run")
    parser.add_argument("--only", choices=[name for name, _n, _m in SHAPES], help="time only this capture")
    parser.add_argument("--live", action="store_true", help="also run radguard monitor live on loopback")
    args = parser.parse_args()
    os.environ["TCP_NODELAY"] = "1"
    if args.src is not None:
        os.environ["PYTHONPATH"] = str(args.src)
    with tempfile.TemporaryDirectory(prefix="pcapbench-") as tmp:
        work = Path(tmp)
        captures: dict[str, tuple[Path, int, int]] = {}
        for name, count, mib in SHAPES:
            if args.only and name != args.only:
                continue
            if args.captures is not None:
                meta = json.loads((args.captures / f"{name}.json").read_text())
                captures[name] = (args.captures / f"{name}.pcap", meta["port"], count)
                continue
            pcap, port = make_capture(work / name, name, count, mib)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                pcap = pcap.replace(args.keep / pcap.name)
                (args.keep / f"{name}.json").write_text(json.dumps({"port": port}))
            captures[name] = (pcap, port, count)
        print(f"{args.runs} interleaved runs per contender, medians; {os.cpu_count()} CPUs")
        for pcap, port, count in captures.values():
            compare(pcap, port, count, args.runs, work, args.before)
        if args.big and not args.only:
            print("== flat memory: one copy of each capture vs ~2 GB of copies (written under /tmp, then deleted)")
            flat_memory(captures, work)
    live_ok = live(8) if args.live else True
    return 0 if live_ok else 1


if __name__ == "__main__":
    sys.exit(main())
