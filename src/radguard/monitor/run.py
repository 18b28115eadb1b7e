"""``radguard pcap`` and ``radguard monitor`` as library calls: read, analyse, detect, record.

The CLI modules only parse arguments and print; everything here is testable without it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radguard.errors import UsageError
from radguard.models import Asset, Finding
from radguard.monitor import detections
from radguard.monitor.analyzer import DEFAULT_DICOM_PORTS, Analysis, Analyzer, analyze
from radguard.monitor.baseline import load as load_baseline
from radguard.monitor.capture import CaptureError, read_frames
from radguard.monitor.conversation import Inspector, Record
from radguard.monitor.http import DEFAULT_WEB_PORTS, UploadInspector
from radguard.monitor.output import JsonLinesSink, ZeekSink
from radguard.monitor.streaming import DETECT_WINDOW, AssetTally, WindowedDetections
from radguard.monitor.streaming import alert_events as alert_events  # re-exported: callers import it from here

if TYPE_CHECKING:
    from radguard.monitor.records_store import RecordWriter
    from radguard.store.api import RunHandle, Store

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
#: when stopping, end the capture once no packet arrived for this long (seconds) ...
DRAIN_QUIET = 1.0
#: ... or after this long at most
DRAIN_MAX = 60.0
#: kernel capture buffer for live capture (tcpdump -B, KiB): bursts on a fast link must not drop packets
LIVE_BUFFER_KIB = 131072


@dataclass
class Options:
    """What to run and where to write (see ``radguard pcap --help``)."""

    profile: str | Sequence[str] = "default"
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    baseline: Path | None = None
    dicom_ports: Iterable[int] = DEFAULT_DICOM_PORTS
    web_ports: Iterable[int] = DEFAULT_WEB_PORTS
    records_path: Path | None = None
    zeek_dir: Path | None = None
    rotate_bytes: int = 0
    keep_records: bool = True
    audit_file: Path | None = None
    audit_syslog: str | None = None
    #: records held for the detections of ``radguard pcap`` (:data:`~radguard.monitor.streaming.DETECT_WINDOW`)
    detect_window: int = DETECT_WINDOW


@dataclass
class Outcome:
    """Result of one run: records (unless streamed only), findings, per-file errors, counters."""

    records: list[Record]
    findings: list[Finding]
    errors: list[dict[str, Any]]
    stats: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return self.stats


def parse_overrides(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``rule.field=value`` strings (``--threshold``) into {rule: {field: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        rule, dot, name = key.partition(".")
        if not sep or not dot or not rule or not name:
            raise UsageError(f"--threshold expects RULE.FIELD=VALUE, got {item!r}")
        out.setdefault(rule, {})[name] = value
    for rule, values in out.items():
        detections.thresholds_for(rule, values)  # validate early: a typo is exit 2, not a silent default
    return out


def _rules(profile: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(profile, str):
        if profile not in detections.PROFILES:
            raise UsageError(f"unknown profile {profile!r} (known: {', '.join(detections.PROFILES)})")
        return detections.PROFILES[profile]
    for rule in profile:
        detections.load(rule)
    return tuple(profile)


def _inspector(rules: Sequence[str]) -> Inspector | None:
    if "malicious-object" not in rules:
        return None
    from radguard.monitor.detections.malicious_object import inspector

    return inspector


def _upload_inspector(rules: Sequence[str]) -> UploadInspector | None:
    if "web-upload-malicious" not in rules:
        return None
    from radguard.monitor.detections.web_upload_malicious import inspector

    return inspector


def _sinks(opts: Options) -> list[Any]:
    sinks: list[Any] = []
    if opts.records_path is not None:
        sinks.append(JsonLinesSink(opts.records_path, opts.rotate_bytes))
    if opts.zeek_dir is not None:
        sinks.append(ZeekSink(opts.zeek_dir, opts.rotate_bytes))
    return sinks


def _stats(records: Sequence[Record], analysis_stats: Any, elapsed: float,
           counted: Mapping[str, Any] | None = None) -> dict[str, Any]:
    if counted is None:
        kinds = Counter(str(r.get("kind")) for r in records)
        commands = Counter(str(r.get("command")) for r in records if r.get("kind") == "dimse")
        counted = {"records": dict(sorted(kinds.items())), "commands": dict(sorted(commands.items()))}
    return {"frames": analysis_stats.frames, "tcp_segments": analysis_stats.tcp_segments,
            "flows": analysis_stats.flows, **counted, "seconds": round(elapsed, 3)}


def _context(opts: Options, rules: Sequence[str]) -> dict[str, Any]:
    """What the context detections read: the baseline (``--baseline``), the honeytokens' keyed hashes."""
    context: dict[str, Any] = {"baseline": load_baseline(opts.baseline)} if opts.baseline else {}
    if "honeytoken-touched" in rules:
        from radguard.monitor.detections.honeytoken import token_hashes
        from radguard.store.honeytokens import read_file

        context["honeytokens"] = token_hashes(read_file())
    return context


def check_inputs(paths: Sequence[Path], opts: Options) -> tuple[str, ...]:
    """Every capture file exists and every detection of the profile is known (else exit 2, before any store
    run is opened); returns the detections' rule ids."""
    for path in paths:
        if not path.exists():
            raise UsageError(f"no such capture file: {path}")
    return _rules(opts.profile)


def run_pcap(paths: Sequence[Path], opts: Options, recorder: StoreRecorder | None = None) -> Outcome:
    """Analyse capture files as one capture; records stream to the sinks (and ``recorder``, the store) as
    they complete. Memory is bounded: the outcome holds the records only with ``opts.keep_records``, the
    detections a window of them (:class:`~radguard.monitor.streaming.WindowedDetections`)."""
    rules = check_inputs(paths, opts)
    context = _context(opts, rules)
    started = time.monotonic()
    sinks: list[Callable[[Record], None]] = list(_sinks(opts))
    detector = WindowedDetections(rules, opts.overrides, context, opts.detect_window)
    kept: list[Record] = []
    consumers: list[Callable[[Record], None]] = [
        *sinks, detector, *([recorder] if recorder is not None else []), *([kept.append] if opts.keep_records else [])]

    def on_record(record: Record) -> None:
        for consume in consumers:
            consume(record)

    try:
        analysis: Analysis = analyze(paths, on_record=on_record, keep_records=False, dicom_ports=opts.dicom_ports,
                                     inspect=_inspector(rules), web_ports=opts.web_ports,
                                     inspect_upload=_upload_inspector(rules))
    finally:
        for sink in sinks:
            sink.close()  # type: ignore[attr-defined]
    findings = detector.finish()
    _audit(findings, opts)
    stats = _stats(kept, analysis.stats, time.monotonic() - started, detector.stats())
    return Outcome(kept, findings, analysis.errors, stats)


def _audit(findings: Sequence[Finding], opts: Options) -> None:
    if findings and (opts.audit_file is not None or opts.audit_syslog):
        from radguard.monitor.alerts import send_alerts

        send_alerts(findings, jsonl=opts.audit_file, syslog=opts.audit_syslog)


def assets_from(records: Sequence[Record]) -> list[Asset]:
    """The DICOM endpoints the capture shows (passive inventory): AE titles, implementation, peers."""
    tally = AssetTally()
    for r in records:
        tally(r)
    return tally.assets()


class StoreRecorder:
    """One pcap/monitor run in the store, records written in batches as they complete (call it per record)."""

    def __init__(self, kind: str, params: Mapping[str, Any]) -> None:
        from radguard.monitor.records_store import RecordWriter
        from radguard.store import open_store

        self.store: Store = open_store()
        try:
            self.run: RunHandle = self.store.start_run(kind, dict(params))
        except BaseException:
            self.store.close()
            raise
        self.writer: RecordWriter = RecordWriter(self.store, self.run.id)
        self.assets = AssetTally()

    @property
    def id(self) -> int:
        return self.run.id

    def __call__(self, record: Record) -> None:
        self.writer.add(record)
        self.assets(record)

    def finish(self, findings: Sequence[Finding], summary: Mapping[str, Any], *, errors: int) -> int:
        """Write what is left, the findings, assets and alert events; close the run. Returns its id."""
        try:
            self.writer.close()
            self.run.add_findings(findings)
            self.run.add_assets(self.assets.assets())
            self.run.add_events(alert_events(findings))
            self.run.finish({**summary, "findings": len(findings), "errors": errors},
                            status="done" if not errors else "partial")
            return self.run.id
        finally:
            self.store.close()

    def abandon(self) -> None:
        """The run failed part-way: mark it so, keep what was written."""
        try:
            self.run.finish({"interrupted": True}, status="failed")
        finally:
            self.store.close()


def store_run(kind: str, params: Mapping[str, Any], outcome: Outcome) -> int:
    """Record the run, its findings and alert events in the store; returns the run id."""
    recorder = StoreRecorder(kind, params)
    for record in outcome.records:
        recorder(record)
    return recorder.finish(outcome.findings, outcome.stats, errors=len(outcome.errors))


def write_status(path: Path, doc: Mapping[str, Any]) -> None:
    """Replace ``path`` with ``doc`` as JSON through a rename (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(dict(doc)) + "\n")
    os.replace(tmp, path)


def run_live(interface: str, opts: Options, *, duration: float | None = None, bpf: str | None = None,
             interval: float = 30.0, window_records: int = 200_000,
             on_alert: Callable[[Finding], None] | None = None, status_file: Path | None = None) -> Outcome:
    """Capture on ``interface`` through ``tcpdump -w -`` and analyse as packets arrive.

    Memory stays bounded: per-connection buffers are capped by the analyzer, and detections run
    every ``interval`` seconds over the last ``window_records`` records; each new finding (by rule and
    target) is passed to ``on_alert`` once. With ``status_file``, each detection pass rewrites it (atomically)
    with the capture time of the last frame it covered: a supervisor (the range) waits on it instead of guessing.
    """
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        raise UsageError("tcpdump is not installed (apt-get install tcpdump)")
    rules = _rules(opts.profile)
    context = _context(opts, rules)
    cmd = [tcpdump, "-i", interface, "--immediate-mode", "-U", "-B", str(LIVE_BUFFER_KIB), "-s", "0", "-w", "-"]
    if bpf:
        cmd.append(bpf)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=1 << 20)
    assert proc.stdout is not None
    with contextlib.suppress(OSError):  # a 1 MiB pipe: fewer stalls of tcpdump while we parse a burst
        fcntl.fcntl(proc.stdout.fileno(), F_SETPIPE_SZ, 1 << 20)
    sinks = _sinks(opts)
    window: deque[Record] = deque(maxlen=window_records)
    seen: set[tuple[str, str]] = set()
    findings: list[Finding] = []
    errors: list[dict[str, Any]] = []

    def on_record(record: Record) -> None:
        window.append(record)
        for sink in sinks:
            sink(record)

    def detect_now() -> None:
        new = []
        for finding in detections.run(list(window), list(rules), opts.overrides, context):
            if finding.key not in seen:
                seen.add(finding.key)
                new.append(finding)
                if on_alert is not None:
                    on_alert(finding)
        findings.extend(new)
        _audit(new, opts)
        if status_file is not None:
            write_status(status_file, {"frames": analyzer.stats.frames, "records": len(window),
                                       "findings": len(findings), "last_frame_time": state["frame_ts"],
                                       "pass_time": time.time()})

    analyzer = Analyzer(on_record, dicom_ports=opts.dicom_ports, inspect=_inspector(rules), web_ports=opts.web_ports,
                        inspect_upload=_upload_inspector(rules))
    started = last = time.monotonic()
    state = {"stopping": 0.0, "last_frame": started, "interrupts": 0, "frame_ts": 0.0}

    def begin_stop() -> None:
        if not state["stopping"]:
            state["stopping"] = time.monotonic()

    def watchdog() -> None:
        # stopping (deadline or ^C) drains first: tcpdump still holds captured packets in its kernel ring,
        # so it is ended only once the stream has been quiet for DRAIN_QUIET seconds (or after DRAIN_MAX)
        while proc.poll() is None:
            now = time.monotonic()
            if duration is not None and now - started >= duration:
                begin_stop()
            if state["stopping"] and (now - state["last_frame"] >= DRAIN_QUIET
                                      or now - state["stopping"] >= DRAIN_MAX):
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                return
            time.sleep(0.1)

    threading.Thread(target=watchdog, name="radguard-monitor-stop", daemon=True).start()

    def stop(signum: int, _frame: object) -> None:
        state["interrupts"] += 1
        begin_stop()
        if state["interrupts"] > 1:  # second ^C: stop now
            raise KeyboardInterrupt

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, stop)
    try:
        for frame in read_frames(proc.stdout):
            analyzer.feed_frame(frame)
            now = state["last_frame"] = time.monotonic()
            state["frame_ts"] = frame.ts
            if now - last >= interval:
                last = now
                detect_now()
    except CaptureError as exc:
        proc.wait(timeout=5)
        if analyzer.stats.frames == 0 and proc.returncode not in (0, -15):
            raise UsageError(f"tcpdump could not capture on {interface!r} (exit {proc.returncode})") from None
        if "cut short" not in str(exc) and "empty" not in str(exc):
            errors.append({"interface": interface, "error": str(exc)})
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        analyzer.finish()
        for sink in sinks:
            sink.close()
    detect_now()
    records = list(window)
    return Outcome(records if opts.keep_records else [], findings, errors,
                   _stats(records, analyzer.stats, time.monotonic() - started))
