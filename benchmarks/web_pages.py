"""Console page times: a PostgreSQL store with 1,000,000 findings and 1,000,000 ledger entries.

Claim (issue 13): p95 of the overview and of a filtered findings page (severity + rule + layer
filters, page 1 and a deep page) is <= 200 ms with that store.

A private PostgreSQL 15 cluster is started on a free loopback port (``tests/support/peers.py``
``start_postgres``: initdb into a temporary directory, trust auth, never the system's server) and
filled with COPY (psycopg ``cursor.copy``): a year of runs of six kinds (weekly scans, monthly
archive audits and seals, daily pcap and monitor runs, gateway runs), their findings (the latest
audit alone has tens of thousands), monitor/pcap events, four sealed roots and their ledger entries.

The pages are measured through the real application over HTTP: ``create_app`` served by uvicorn in
this process (a thread, loopback port), requested with httpx by a logged-in viewer. The overview is
measured **cold** (the console's in-process caches emptied before each request: every aggregate
is read from PostgreSQL again; PostgreSQL's own buffers stay warm) and **warm** (cached by the store's
fingerprint). The deep findings page is reached both as ``page=N`` (``OFFSET`` over an index-only
id scan) and by the page's ``after`` cursor (keyset). Load average printed before and after.

    .venv/bin/python benchmarks/web_pages.py [--quick] [--samples 40] [--url URL --reuse] [--keep]

``--quick``: 100,000 findings and entries. ``--keep`` leaves the server running and prints its URL;
``--url URL --reuse`` measures an existing store filled by an earlier run (no generation).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
import uvicorn  # noqa: E402
from tests.support.peers import free_port, start_postgres  # noqa: E402

from radguard.store import open_store  # noqa: E402
from radguard.web.accounts import create_user  # noqa: E402
from radguard.web.app import create_app  # noqa: E402
from radguard.web.config import WebConfig  # noqa: E402

PASSWORD = "benchmark password 1234"
GOAL_MS = 200.0
SEVERITIES = (("critical", 2), ("high", 10), ("medium", 25), ("low", 33), ("info", 30))
#: kind -> (runs in a year, share of all findings, rules with weights)
KINDS: dict[str, tuple[int, float, tuple[tuple[str, int], ...]]] = {
    "audit": (12, 0.40, (("object-changed", 40), ("object-missing", 15), ("pixel-tampered", 10),
                         ("header-changed", 15), ("unexpected-object", 10), ("preamble-exec", 2),
                         ("ransomware-burst", 1), ("ledger-invalid", 1), ("canary-touched", 6))),
    "scan": (52, 0.15, (("dicom-any-called-ae", 20), ("dicom-open-query", 15), ("tls-weak", 20),
                        ("tls-expired", 5), ("http-default-login", 5), ("smb-v1", 5), ("ssh-weak-kex", 15),
                        ("dicom-cleartext", 15))),
    "seal": (12, 0.01, (("unreadable-object", 60), ("preamble-exec", 40))),
    "pcap": (100, 0.15, (("cleartext-phi", 30), ("c-find-sweep", 20), ("c-move-exfil", 10),
                         ("unknown-ae", 30), ("assoc-flood", 10))),
    "monitor": (100, 0.25, (("unknown-ae", 35), ("c-find-sweep", 20), ("c-move-exfil", 10),
                            ("new-peer", 25), ("tls-downgrade", 10))),
    "gateway": (30, 0.04, (("association-refused", 60), ("contained-peer", 20), ("malformed-pdu", 20))),
}
CONTROLS = ('["hipaa:164.312(e)(1)"]', '["hipaa:164.312(c)(1)", "csf:PR.DS-01"]', "[]",
            '["csf:DE.CM-01"]', '["hipaa:164.308(a)(1)(ii)(D)", "csf:DE.AE-02"]')
ROOTS = tuple(f"/archive/root{i}" for i in range(4))


def _weighted(rng: random.Random, items: tuple[tuple[str, int], ...], n: int) -> list[str]:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items], k=n)


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _copy(conn: psycopg.Connection, table: str, columns: str, lines: Iterator[str]) -> int:
    """COPY ``lines`` (text format, tab-separated, ``\\N`` = NULL) into ``table``; rows copied."""
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
        buf = io.StringIO()
        for line in lines:
            buf.write(line)
            n += 1
            if n % 20000 == 0:
                cp.write(buf.getvalue())
                buf = io.StringIO()
        cp.write(buf.getvalue())
    return n


def _plan_runs(rng: random.Random, total: int) -> list[tuple[int, str, datetime, int]]:
    """(id, kind, started, findings) of a year of runs, in start order."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    plan: list[tuple[str, datetime, int]] = []
    for kind, (count, share, _rules) in KINDS.items():
        per = total * share / count
        for i in range(count):
            when = start + timedelta(days=365 * i / count, hours=rng.uniform(0, 20))
            plan.append((kind, when, max(1, int(per * rng.uniform(0.7, 1.3)))))
    plan.sort(key=lambda p: p[1])
    scale = total / sum(p[2] for p in plan)
    runs = [(i + 1, kind, when, max(1, round(n * scale))) for i, (kind, when, n) in enumerate(plan)]
    # exactly ``total`` findings: the rounding difference goes to the latest audit
    last_audit = max(i for i, r in enumerate(runs) if r[1] == "audit")
    rid, kind, when, n = runs[last_audit]
    runs[last_audit] = (rid, kind, when, n + total - sum(r[3] for r in runs))
    return runs


def generate(url: str, findings: int, entries: int, seed: int = 13) -> None:
    """Fill the (empty, migrated) store at ``url`` with COPY."""
    rng = random.Random(seed)
    store = open_store(url)  # creates the schema (every migration)
    create_user(store, "bench", "viewer", PASSWORD)
    store.close()
    runs = _plan_runs(rng, findings)
    t0 = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        def run_lines() -> Iterator[str]:
            for rid, kind, when, n in runs:
                params: dict[str, object] = {"bench": True}
                summary: dict[str, object] = {"findings": n}
                if kind in ("seal", "audit"):
                    roots = [ROOTS[rid % len(ROOTS)]] if kind == "audit" else list(ROOTS)
                    params = {"paths": roots, "workers": 2}
                    summary = ({"files": entries // len(ROOTS), "verified": entries // len(ROOTS) - n,
                                "sealed_roots": roots, "by_rule": {}} if kind == "audit" else
                               {"files": entries, "roots": [{"root": r, "objects": entries // len(ROOTS),
                                                             "merkle_root": _hex(rng)} for r in roots]})
                finished = when + timedelta(minutes=rng.randint(1, 90))
                yield (f"{rid}\t{kind}\t{when.isoformat()}\t{finished.isoformat()}\tdone\t"
                       f"{json.dumps(params)}\t{json.dumps(summary)}\n")

        _copy(conn, "runs", "id, kind, started, finished, status, params, summary", run_lines())

        def finding_lines() -> Iterator[str]:
            fid = 0
            for rid, kind, _when, n in runs:
                rules = _weighted(rng, KINDS[kind][2], n)
                sevs = _weighted(rng, SEVERITIES, n)
                for rule, sev in zip(rules, sevs, strict=True):
                    fid += 1
                    if kind in ("audit", "seal"):
                        target = f"{ROOTS[rid % len(ROOTS)]}/{rng.randrange(40000):06d}/{rng.randrange(9)}.dcm"
                    elif kind in ("pcap", "monitor"):
                        target = f"10.20.{rng.randrange(8)}.{rng.randrange(250)}:104"
                    else:
                        target = f"10.20.{rng.randrange(8)}.{rng.randrange(250)}:{rng.choice((104, 11112, 443))}"
                    evidence = f'{{"count": {rng.randrange(1, 50)}, "key": "{rng.getrandbits(64):016x}"}}'
                    yield (f"{fid}\t{rid}\t{rule}\t{sev}\t{rule.replace('-', ' ')} on this target\t{target}\t"
                           f"{evidence}\tSee the runbook for {rule}.\t{CONTROLS[zlib.crc32(rule.encode()) % 5]}\n")

        n_findings = _copy(conn, "findings", "id, run_id, rule, severity, title, target, evidence, remediation, "
                                             "controls", finding_lines())

        def event_lines() -> Iterator[str]:
            eid = 0
            for rid, kind, when, n in runs:
                if kind not in ("pcap", "monitor"):
                    continue
                for _ in range(max(1, n // 4)):
                    eid += 1
                    sev = _weighted(rng, SEVERITIES, 1)[0]
                    at = when + timedelta(seconds=rng.randrange(3600))
                    yield (f"{eid}\t{rid}\t{at.isoformat()}\t{rng.choice(('alert', 'association', 'flow'))}\t"
                           f"{kind}\t{sev}\tassociation 10.20.{rng.randrange(8)}.{rng.randrange(250)} -> PACS\t"
                           f'{{"peer": "10.20.0.{rng.randrange(250)}"}}\n')

        _copy(conn, "events", "id, run_id, time, kind, source, severity, summary, attributes", event_lines())
        seals = [r for r in runs if r[1] == "seal"]
        _copy(conn, "archive_roots", "id, path, created, last_run",
              iter(f"{i + 1}\t{root}\t2024-01-01T00:00:00+00:00\t{seals[-1][0]}\n" for i, root in enumerate(ROOTS)))

        def entry_lines() -> Iterator[str]:
            for i in range(entries):
                root = ROOTS[i % len(ROOTS)]
                study, series = i // 400, (i // 40) % 10
                uid = f"1.2.826.0.1.3680043.10.543.{i}"
                seal = seals[i * len(seals) // entries]
                h = [_hex(rng) for _ in range(5)]
                yield (f"{i + 1}\t{root}\t{root}/{study:06d}/{series}/{i}.dcm\t{rng.randrange(10**5, 10**6)}\t"
                       f"{1_700_000_000_000_000_000 + i}\tt\t{uid}\t{uid}.1\t{uid}.2\t1.2.840.10008.5.1.4.1.1.2\t"
                       f"1.2.840.10008.1.2.1\t{h[0]}\t{h[1]}\t{h[2]}\t{h[3]}\t{h[4]}\t\t\\N\tf\t\\N\t\\N\t"
                       f"{seal[0]}\t{seals[-1][0]}\t{seal[2].isoformat()}\t{hashlib.sha256(h[0].encode()).hexdigest()}\n")

        n_entries = _copy(conn, "archive_entries",
                          "id, root, path, size, mtime_ns, dicom, sop_instance_uid, series_uid, study_uid, "
                          "sop_class_uid, transfer_syntax, file_sha256, meta_sha256, header_sha256, pixel_sha256, "
                          "pixel_canonical_sha256, elements, layout, canary, checks, checks_version, run_id, "
                          "seen_run, sealed_at, leaf", entry_lines())
        with conn.cursor() as cur:
            for table in ("runs", "findings", "events", "archive_roots", "archive_entries"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    print(f"generated {len(runs)} runs, {n_findings:,} findings, {n_entries:,} ledger entries with COPY "
          f"in {time.perf_counter() - t0:.0f} s", flush=True)


class Served:
    """The console served by uvicorn in a thread on a loopback port."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.app = create_app(WebConfig(data_dir=data_dir, store_url=url))
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=120)
        token = re.search(r'name="csrf" value="([^"]+)"', self.client.get("/login").text)
        assert token
        r = self.client.post("/login", data={"name": "bench", "password": PASSWORD, "csrf": token.group(1)})
        assert r.status_code in (200, 303), r.status_code

    def forget(self) -> None:
        """Empty the console's in-process caches (the next overview reads every aggregate again)."""
        self.app.state.console.cache.clear()

    def close(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.console.close()


def timed(get: Callable[[], httpx.Response], samples: int, before: Callable[[], None] | None = None
          ) -> list[float]:
    out = []
    for _ in range(samples):
        if before:
            before()
        t0 = time.perf_counter()
        r = get()
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (r.status_code, r.text[:300])
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 findings and ledger entries")
    ap.add_argument("--findings", type=int, default=None)
    ap.add_argument("--entries", type=int, default=None)
    ap.add_argument("--samples", type=int, default=40, help="requests per measured page (default 40)")
    ap.add_argument("--url", help="an existing PostgreSQL store (with --reuse: filled by an earlier run)")
    ap.add_argument("--reuse", action="store_true", help="measure --url as it is (no generation)")
    ap.add_argument("--keep", action="store_true", help="leave the PostgreSQL server running")
    args = ap.parse_args()
    n_findings = args.findings or (100_000 if args.quick else 1_000_000)
    n_entries = args.entries or (100_000 if args.quick else 1_000_000)
    server = None
    if args.url:
        url = args.url
    else:
        server = start_postgres()
        url = server.create_database("bench")
    try:
        if not args.reuse:
            generate(url, n_findings, n_entries)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        with tempfile.TemporaryDirectory() as tmp:
            served = Served(url, Path(tmp))
            try:
                results = measure(served, args.samples)
            finally:
                served.close()
        print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"\n{'page':58} {'p50 ms':>8} {'p95 ms':>8}  goal p95 <= {GOAL_MS:.0f} ms")
        ok = True
        for name, values in results:
            p50, p95 = pct(values, 0.5), pct(values, 0.95)
            ok &= p95 <= GOAL_MS
            print(f"{name:58} {p50:8.1f} {p95:8.1f}  {'ok' if p95 <= GOAL_MS else 'SLOW'}")
        print(f"\n{len(results[0][1])} samples each; served by uvicorn in-process, requested with httpx over loopback")
        return 0 if ok else 1
    finally:
        if server is not None:
            if args.keep:
                print(f"PostgreSQL kept running: {url} (data {server.datadir})")
            else:
                server.stop()


def measure(served: Served, samples: int) -> list[tuple[str, list[float]]]:
    c = served.client
    filt = "severity=high&severity=medium&rule=object-changed&kind=audit"
    first = c.get(f"/api/findings?{filt}").json()
    deep = max(1, first["pages"] - 1)
    print(f"filtered findings: {first['total']:,} in {first['pages']} pages; deep page = {deep}")
    # the deep page's cursor, followed page by page as a browser would (keyset links)
    cursor = ""
    if "next" in first:
        page = first
        for _ in range(deep - 1):
            if not page.get("next"):
                break
            page = c.get(f"/api/findings?{filt}&{page['next']}").json()
        cursor = page.get("next") or ""
    out: list[tuple[str, list[float]]] = []
    c.get("/")  # the first request of the process (connection pool, templates) is not measured
    out.append(("overview / cold (in-process caches emptied)", timed(lambda: c.get("/"), samples, served.forget)))
    out.append(("overview / warm", timed(lambda: c.get("/"), samples)))
    out.append(("overview /api/overview cold", timed(lambda: c.get("/api/overview"), samples, served.forget)))
    out.append((f"findings page 1 ({filt})", timed(lambda: c.get(f"/findings?{filt}"), samples)))
    out.append((f"findings page {deep} (page=N, OFFSET on ids)",
                timed(lambda: c.get(f"/findings?{filt}&page={deep}"), samples)))
    if cursor:
        out.append((f"findings page {deep + 1} (keyset cursor)",
                    timed(lambda: c.get(f"/findings?{filt}&{cursor}"), samples)))
    out.append(("findings /api/findings page 1, same filter", timed(lambda: c.get(f"/api/findings?{filt}"), samples)))
    out.append(("findings, no filter (open findings, page 1)", timed(lambda: c.get("/findings"), samples)))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
