"""Benchmark: ``radguard pcap`` vs Wireshark's ``tshark`` on the same DICOM capture.

Claims (issue 6): radguard >= 5x faster than tshark decoding DICOM, peak memory <= 0.25x, and both
agree on the count of every DIMSE command.

The capture (>= 100 MB; a few MB with --quick) is made by this script: tcpdump on loopback while
DCMTK storescu sends large synthetic CT objects and pydicom's CT_small to storescp, plus echoes.
Timed, each once on a warm page cache, peak RSS per process (wait4):
  radguard pcap FILE --json --no-store            (records + default detections, archive checks on
                                                   every C-STORE object included)
  tshark -r FILE -d tcp.port==P,dicom -Y dicom -T json      (full decode, as the issue names it)
  tshark -r FILE -d tcp.port==P,dicom -Y dicom -T fields -e _ws.col.Info   (lightest tshark run)
both with ``-o tcp.reassemble_out_of_order:TRUE``: loopback captures hold out-of-order segments, and
without it Wireshark silently drops the DIMSE messages they carry (radguard reassembles them).

Live (``--live``): ``radguard monitor -i lo`` while the same traffic is sent, then whether every
C-STORE/C-ECHO was recorded without a gap, and the sustained rate.

    .venv/bin/python benchmarks/pcap_vs_tshark.py [--quick] [--keep DIR] [--live]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from pydicom import dcmread  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402
from tests.captures.make_captures import _REQUEST, TSHARK_OPTIONS, run, tcpdump  # noqa: E402
from tests.support.peers import LOOPBACK, start_storescp  # noqa: E402

from radguard.monitor.analyzer import analyze  # noqa: E402

RADGUARD = str(ROOT / ".venv" / "bin" / "radguard")


def timed(cmd: list[str], out_path: Path) -> tuple[float, int]:
    """Run ``cmd`` with stdout to ``out_path``; (wall seconds, peak RSS KiB) as GNU time reports them.

    GNU time rather than wait4() on our own child: a child forked from this (large) Python process
    reports the parent's pages in its maximum RSS until it execs.
    """
    stats = out_path.with_suffix(".time")
    with out_path.open("wb") as out:
        proc = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", str(stats), *cmd], stdout=out,
                              stderr=subprocess.DEVNULL, check=False)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}")
    wall, rss = stats.read_text().split()[-2:]
    return float(wall), int(rss)


def make_objects(workdir: Path, big: int, mib_each: int) -> list[Path]:
    """``big`` synthetic CT objects of ~``mib_each`` MiB (unique UIDs) made from CT_small."""
    base = dcmread(get_testdata_file("CT_small.dcm"))
    side = int((mib_each * 1024 * 1024 / 2) ** 0.5)
    files = []
    for i in range(big):
        ds = base.copy()
        ds.Rows = ds.Columns = side
        ds.PixelData = np.random.default_rng(i).integers(0, 4096, side * side, dtype=np.uint16).tobytes()
        ds.SOPInstanceUID = generate_uid()
        path = workdir / f"big{i}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def make_capture(workdir: Path, target_mb: int) -> tuple[Path, int]:
    workdir.mkdir()
    scp = start_storescp(workdir)
    big = max(1, target_mb // 4)
    files = make_objects(workdir, big, 4)
    small = get_testdata_file("CT_small.dcm")
    pcap = workdir / "dicom.pcap"
    try:
        with tcpdump(pcap, [scp.port]):
            base = ["-aet", "CT01", "-aec", scp.ae, LOOPBACK, str(scp.port)]
            run(["storescu", *base, *map(str, files)])
            run(["storescu", *base, *[small] * max(10, target_mb * 2)])
            for _ in range(10):
                run(["echoscu", *base])
    finally:
        scp.stop()
    return pcap, scp.port


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
    parser.add_argument("--quick", action="store_true", help="a ~8 MB capture instead of >= 100 MB")
    parser.add_argument("--keep", type=Path, help="keep the capture in this directory")
    parser.add_argument("--live", action="store_true", help="also run radguard monitor live on loopback")
    args = parser.parse_args()
    os.environ["TCP_NODELAY"] = "1"
    with tempfile.TemporaryDirectory(prefix="pcapbench-") as tmp:
        work = Path(tmp)
        for attempt in range(3):  # a loaded machine can make tcpdump drop packets: both tools would then differ
            pcap, port = make_capture(work / f"try{attempt}", 8 if args.quick else 104)
            gaps = sum(int(r.get("gaps") or 0) for r in analyze([pcap], dicom_ports=[port]).records)
            if not gaps:
                break
            print(f"capture attempt {attempt + 1} lost packets ({gaps} gaps), capturing again")
        size = pcap.stat().st_size
        print(f"capture: {size / 1e6:.1f} MB ({pcap})")
        pcap.read_bytes()  # warm the page cache for every contender
        decode = [*TSHARK_OPTIONS, "-d", f"tcp.port=={port},dicom"]
        rg_t, rg_rss = timed([RADGUARD, "pcap", str(pcap), "--json", "--no-store", "--dicom-port", str(port)],
                             work / "rg.json")
        tj_t, tj_rss = timed(["tshark", "-r", str(pcap), *decode, "-Y", "dicom", "-T", "json"], work / "ts.json")
        tf_t, tf_rss = timed(["tshark", "-r", str(pcap), *decode, "-Y", "dicom", "-T", "fields", "-e",
                              "_ws.col.Info"], work / "ts.txt")
        doc = json.loads((work / "rg.json").read_text())
        ours = Counter(r["command"] for r in doc["records"] if r["kind"] == "dimse")
        theirs = Counter(m.group(1) for line in (work / "ts.txt").read_text().splitlines()
                         for m in _REQUEST.finditer(line))
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            pcap.replace(args.keep / pcap.name)
    print(f"radguard pcap --json      : {rg_t:7.2f} s  peak RSS {rg_rss / 1024:7.1f} MiB  "
          f"({size / 1e6 / rg_t:6.1f} MB/s)")
    print(f"tshark -T json            : {tj_t:7.2f} s  peak RSS {tj_rss / 1024:7.1f} MiB")
    print(f"tshark -T fields          : {tf_t:7.2f} s  peak RSS {tf_rss / 1024:7.1f} MiB")
    print(f"wall-time ratio tshark/radguard: json {tj_t / rg_t:5.1f}x, fields {tf_t / rg_t:5.1f}x  (goal >= 5x)")
    print(f"peak-memory ratio radguard/tshark: json {rg_rss / tj_rss:5.2f}, fields {rg_rss / tf_rss:5.2f}  "
          f"(goal <= 0.25)")
    print(f"DIMSE requests radguard: {dict(sorted(ours.items()))}")
    print(f"DIMSE requests tshark  : {dict(sorted(theirs.items()))}")
    agree = ours == theirs
    print(f"command counts agree: {agree}")
    live_ok = live(8 if args.quick else 104) if args.live else True
    return 0 if agree and live_ok else 1


if __name__ == "__main__":
    sys.exit(main())
