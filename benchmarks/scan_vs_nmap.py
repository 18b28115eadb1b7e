"""radguard scan vs nmap --script dicom-ping on the same loopback targets; plus a flat-memory scale run.

Claim 1 (issue 3): on the same targets (several DICOM peers plus closed ports), ``radguard scan``
is no slower than ``nmap -p ... --script +dicom-ping`` (wall-time ratio <= 1.0, medians of
several runs, both as fresh processes) while reporting more facts per port.

Claim 3 (issue 15): a sweep of closed ports, a /24 and a /22 of 127.x loopback addresses x 3 ports, takes
radguard no longer than nmap (ratio <= 1.0); ``--sweeps`` runs only these, ``--before SRC`` also runs radguard
from another checkout's ``src`` (PYTHONPATH), interleaved, for a before/after ratio in the same run.

Claim 2: memory stays flat with the number of target:port pairs (>= 1,000 pairs over
127.0.0.x): peak RSS of the radguard process at N pairs vs at N/10 pairs.

    .venv/bin/python benchmarks/scan_vs_nmap.py [--quick] [--sweeps] [--before SRC]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.peers import Peer, free_port, start_dcmqrscp, start_orthanc, start_storescp  # noqa: E402

RADGUARD = [str(ROOT / ".venv" / "bin" / "radguard")]


def timed(cmd: list[str], extra_env: dict[str, str] | None = None) -> tuple[float, str, int]:
    """Run ``cmd``; (wall seconds, stdout, peak RSS in KiB of that process)."""
    wall, out, rss, _ = timed_cpu(cmd, extra_env)
    return wall, out, rss


def timed_cpu(cmd: list[str], extra_env: dict[str, str] | None = None) -> tuple[float, str, int, float]:
    """Run ``cmd``; (wall seconds, stdout, peak RSS in KiB, CPU seconds user+system of that process)."""
    env = {**os.environ, "TCP_NODELAY": "1", **(extra_env or {})}
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return wall, out.read().decode(), int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime


def nmap_facts(xml: str) -> dict[int, int]:
    """Facts per port (of the first host) in nmap's XML: state, service name, and each script output line."""
    facts: dict[int, int] = {}
    host = next(ET.fromstring(xml).iter("host"))
    for port in host.iter("port"):
        n = 1
        if port.find("service") is not None:
            n += 1
        for script in port.iter("script"):
            n += sum(1 for line in (script.get("output") or "").splitlines() if line.strip())
        facts[int(port.get("portid", "0"))] = n
    return facts


def radguard_facts(doc: dict[str, object], ports: list[int]) -> dict[int, int]:
    """Facts per port in radguard's JSON: state, asset kind/product/version/attributes, findings."""
    facts = {p: 1 for p in ports}
    first = "127.0.0.1:"
    for asset in doc["assets"]:  # type: ignore[attr-defined]
        if not asset["target"].startswith(first):
            continue
        port = int(asset["target"].rsplit(":", 1)[1])
        facts[port] += 1 + sum(1 for k in ("product", "version") if asset.get(k))
        facts[port] += sum(1 for v in asset["attributes"].values() if v not in (None, [], {}))
    for f in doc["findings"]:  # type: ignore[attr-defined]
        if f["target"].startswith(first):
            facts[int(f["target"].rsplit(":", 1)[1])] += 1
    return facts


def compare(runs: int, n_closed: int, tmp: Path, hosts: str) -> None:
    peers: list[Peer] = [start_storescp(tmp, ae=f"SCP{i}") for i in range(3)]
    peers.append(start_dcmqrscp(tmp, peers={"KNOWNSCU": ("127.0.0.1", 1)}))
    orthanc = start_orthanc(tmp)
    try:
        open_ports = [p.port for p in peers] + [orthanc.dicom_port, orthanc.http_port]
        ports = open_ports + [free_port() for _ in range(n_closed)]
        spec = ",".join(map(str, ports))
        rg_cmd = [*RADGUARD, "scan", hosts, "--ports", spec, "--json", "--no-store"]
        nm_cmd = ["nmap", "-n", "-Pn", "-p", spec, "--script", "+dicom-ping", "-oX", "-", hosts]
        rg_times, nm_times = [], []
        rg_out = nm_out = ""
        for _ in range(runs):  # interleaved, so machine noise hits both alike
            t, rg_out, _ = timed(rg_cmd)
            rg_times.append(t)
            t, nm_out, _ = timed(nm_cmd)
            nm_times.append(t)
        rg_doc = json.loads(rg_out)
        rg_f, nm_f = radguard_facts(rg_doc, ports), nmap_facts(nm_out)
        rg_med, nm_med = statistics.median(rg_times), statistics.median(nm_times)
        print(f"targets: {hosts} x {len(open_ports)} open ports (3 storescp, dcmqrscp, Orthanc DICOM+HTTP) "
              f"+ {n_closed} closed; {runs} interleaved runs each")
        print(f"radguard scan: median {rg_med:.3f}s  (runs: {', '.join(f'{t:.3f}' for t in rg_times)})")
        print(f"nmap dicom-ping: median {nm_med:.3f}s  (runs: {', '.join(f'{t:.3f}' for t in nm_times)})")
        print(f"wall-time ratio radguard/nmap = {rg_med / nm_med:.2f}  (goal <= 1.0)")
        one = str(ports[-1])
        rg_base = statistics.median(timed([*RADGUARD, "scan", "127.0.0.1", "--ports", one, "--json", "--no-store"])[0]
                                    for _ in range(runs))
        nm_base = statistics.median(timed(["nmap", "-n", "-Pn", "-p", one, "--script", "+dicom-ping", "-oX", "-",
                                           "127.0.0.1"])[0] for _ in range(runs))
        print(f"  for scale: the same commands on one closed port take radguard {rg_base:.3f}s, nmap {nm_base:.3f}s "
              "(process start-up)")
        print("facts per port of 127.0.0.1 (radguard vs nmap):")
        for p in open_ports:
            print(f"  {p:>5}: {rg_f.get(p, 0):>3} vs {nm_f.get(p, 0):>3}")
        closed_rg = statistics.mean(rg_f.get(p, 0) for p in ports[len(open_ports):]) if n_closed else 0
        closed_nm = statistics.mean(nm_f.get(p, 0) for p in ports[len(open_ports):]) if n_closed else 0
        print(f"  closed ports: {closed_rg:.1f} vs {closed_nm:.1f} (mean)")
        total_rg = sum(rg_f.get(p, 0) for p in open_ports)
        total_nm = sum(nm_f.get(p, 0) for p in open_ports)
        print(f"facts on open ports: radguard {total_rg}, nmap {total_nm}, ratio {total_rg / max(1, total_nm):.1f}x; "
              f"radguard findings: {len(rg_doc['findings'])}, errors: {len(rg_doc['errors'])}")
    finally:
        for p in peers:
            p.stop()
        orthanc.stop()


def open_sweep(runs: int, before: str, tmp: Path) -> None:
    """The /27 with open DICOM peers (3 storescp, dcmqrscp, Orthanc DICOM+HTTP on every 127.0.0.x) plus 24 closed
    ports, radguard vs nmap (and radguard from ``before`` when given), interleaved: goal ratio <= 0.5."""
    peers: list[Peer] = [start_storescp(tmp, ae=f"SCP{i}") for i in range(3)]
    peers.append(start_dcmqrscp(tmp, peers={"KNOWNSCU": ("127.0.0.1", 1)}))
    orthanc = start_orthanc(tmp)
    try:
        open_ports = [p.port for p in peers] + [orthanc.dicom_port, orthanc.http_port]
        ports = open_ports + [free_port() for _ in range(24)]
        spec, hosts = ",".join(map(str, ports)), "127.0.0.1-30"
        cmds: dict[str, tuple[list[str], dict[str, str]]] = {
            "radguard": ([*RADGUARD, "scan", hosts, "--ports", spec, "--json", "--no-store"], {}),
            "nmap": (["nmap", "-n", "-Pn", "-p", spec, "--script", "+dicom-ping", "-oX", "-", hosts], {})}
        if before:
            cmds["radguard (before)"] = (cmds["radguard"][0], {"PYTHONPATH": before})
        times: dict[str, list[float]] = {k: [] for k in cmds}
        cpu: dict[str, list[float]] = {k: [] for k in cmds}
        docs: dict[str, dict[str, object]] = {}
        for _ in range(runs):  # interleaved
            for name, (cmd, env) in cmds.items():
                t, out, _, c = timed_cpu(cmd, env)
                times[name].append(t)
                cpu[name].append(c)
                if name.startswith("radguard"):
                    docs[name] = json.loads(out)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{hosts} x {len(open_ports)} open + 24 closed ports, {runs} interleaved runs, "
              f"load average {os.getloadavg()[0]:.2f}")
        for name in cmds:
            print(f"  {name:18} median {med[name]:.3f}s  (runs: {', '.join(f'{t:.3f}' for t in times[name])}); "
                  f"CPU median {statistics.median(cpu[name]):.3f}s")
        print(f"  ratio radguard/nmap = {med['radguard'] / med['nmap']:.2f} (goal <= 0.5)")
        if before:
            same = all(_digest(docs[name]) == _digest(docs["radguard"]) for name in docs)
            print(f"  ratio radguard after/before = {med['radguard'] / med['radguard (before)']:.2f}; before/nmap = "
                  f"{med['radguard (before)'] / med['nmap']:.2f}; same assets, findings and errors: {same}")
    finally:
        for p in peers:
            p.stop()
        orthanc.stop()


def _digest(doc: dict[str, object]) -> tuple[object, ...]:
    """What a scan found, comparable across runs (order-free)."""
    def key(item: object) -> str:
        return json.dumps(item, sort_keys=True)

    return (doc["summary"]["open"],  # type: ignore[index]
            sorted(map(key, doc["ports"])), sorted(map(key, doc["assets"])),  # type: ignore[call-overload]
            sorted(map(key, doc["findings"])), sorted(map(key, doc["errors"])))  # type: ignore[call-overload]


def scale(pairs: int, tmp: Path) -> None:
    """Peak RSS at pairs/10 and at pairs target:port pairs over 127.0.0.x (4 ports per host, one a DICOM SCP
    listening on every loopback address, the others closed)."""
    # DCMTK listens on all addresses: one DICOM endpoint per 127.0.0.x; --fork: one process per association, so
    # the single SCP behind 1,000 "hosts" is not the bottleneck being measured
    scp = start_storescp(tmp, ae="SCALE", extra_args=["--fork"])
    try:
        ports = [scp.port] + [free_port() for _ in range(3)]
        spec = ",".join(map(str, ports))
        results = []
        for n in (pairs // 10, pairs):
            hosts = n // len(ports)
            last = 1 + hosts - 1
            targets = [f"127.0.{(i - 1) // 254}.{(i - 1) % 254 + 1}" for i in range(1, last + 1)]
            tfile = tmp / f"targets-{n}.txt"
            tfile.write_text("\n".join(targets) + "\n")
            t, out, rss = timed([*RADGUARD, "scan", f"@{tfile}", "--ports", spec, "--json", "--no-store"])
            doc = json.loads(out)
            dicom = sum(1 for a in doc["assets"] if a["kind"] == "dicom")
            results.append((hosts * len(ports), t, rss, dicom, len(doc["errors"])))
        for n, t, rss, dicom, errors in results:
            print(f"  {n:>6} target:port pairs: {t:6.2f}s, peak RSS {rss / 1024:6.1f} MiB, "
                  f"{dicom} DICOM endpoints, {errors} errors")
        print(f"peak RSS ratio {results[1][0]} vs {results[0][0]} pairs = {results[1][2] / results[0][2]:.2f} "
              f"(flat memory: close to 1.0 for 10x the pairs)")
    finally:
        scp.stop()


def sweeps(runs: int, before: str) -> None:
    """Closed ports only: a /24 and a /22 of 127.x loopback addresses x 3 ports nothing listens on."""
    ports = ",".join(str(free_port()) for _ in range(3))
    for net in ("127.0.4.0/24", "127.0.8.0/22"):
        cmds: dict[str, tuple[list[str], dict[str, str]]] = {
            "radguard": ([*RADGUARD, "scan", net, "--ports", ports, "--json", "--no-store"], {}),
            "nmap": (["nmap", "-n", "-Pn", "-p", ports, "--script", "+dicom-ping", "-oX", "-", net], {})}
        if before:
            cmds["radguard (before)"] = (cmds["radguard"][0], {"PYTHONPATH": before})
        times: dict[str, list[float]] = {k: [] for k in cmds}
        cpu: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(runs):  # interleaved
            for name, (cmd, env) in cmds.items():
                t, out, _, c = timed_cpu(cmd, env)
                times[name].append(t)
                cpu[name].append(c)
                if name.startswith("radguard") and json.loads(out)["summary"]["open"] != 0:
                    sys.exit(f"an open port in {net}: pick other ports")
        med = {k: statistics.median(v) for k, v in times.items()}
        pairs = int(net.rsplit("/", 1)[1])
        print(f"{net} x 3 closed ports ({2 ** (32 - pairs) * 3} pairs), {runs} interleaved runs, "
              f"load average {os.getloadavg()[0]:.2f}")
        for name in cmds:
            print(f"  {name:18} median {med[name]:.3f}s  (runs: {', '.join(f'{t:.3f}' for t in times[name])}); "
                  f"CPU median {statistics.median(cpu[name]):.3f}s")
        print(f"  ratio radguard/nmap = {med['radguard'] / med['nmap']:.2f} (goal <= 1.0)")
        if before:
            print(f"  ratio radguard after/before = {med['radguard'] / med['radguard (before)']:.2f}; before/nmap = "
                  f"{med['radguard (before)'] / med['nmap']:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 run, fewer closed ports, 1,000 pairs at scale")
    ap.add_argument("--sweeps", action="store_true", help="only the closed-port sweeps (/24 and /22 x 3 ports)")
    ap.add_argument("--open", action="store_true", help="only the /27 with open DICOM peers (goal ratio <= 0.5)")
    ap.add_argument("--before", default="", help="also run the sweeps with this src directory (PYTHONPATH)")
    args = ap.parse_args()
    if args.sweeps or args.open:
        if args.open:
            with tempfile.TemporaryDirectory(prefix="rg-bench-") as d:
                open_sweep(3 if args.quick else 5, args.before, Path(d))
        if args.sweeps:
            sweeps(3 if args.quick else 5, args.before)
        return 0
    runs, n_closed, pairs = (1, 6, 1000) if args.quick else (5, 24, 4000)
    with tempfile.TemporaryDirectory(prefix="rg-bench-") as d:
        print("== radguard scan vs nmap --script +dicom-ping: one host")
        compare(runs, n_closed, Path(d), "127.0.0.1")
        print("== the same ports on a /27 worth of loopback hosts (DCMTK and Orthanc listen on every 127.0.0.x)")
        compare(runs, n_closed, Path(d), "127.0.0.1-30")
        print(f"== scale: up to {pairs} target:port pairs on 127.0.0.x")
        scale(pairs, Path(d))
    print("== closed-port sweeps")
    sweeps(runs, args.before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
