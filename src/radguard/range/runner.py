"""Run attacks against a running range and measure every layer: the ``radguard.range/1`` results.

Per attack: whether the attacker's objective was reached (measured by the attack itself), which
layer prevented it, which layers saw it (layer, rule, time to detect from the alert's own
timestamp: the gateway's and the monitor's audit trail, the archive audit's run in the store), the
impact, and the time to verified recovery (``radguard recover`` until an audit is clean). Benign
traffic (:mod:`radguard.range.traffic`) runs during every attack; a benign-only window counts each
layer's false positives. :func:`ablate` switches each layer off in turn and reruns only the attacks
that expect it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from radguard.range import lab
from radguard.range.attacks.kit import DEPLOYED, LAYERS, Attack, Context, Outcome, copy_tree
from radguard.range.department import radguard, say
from radguard.range.state import RangeState
from radguard.range.traffic import Benign

SCHEMA = "radguard.range/1"
#: after an attack, the runner nudges the monitor (a REST request to the PACS, on a watched port) every
#: SETTLE_NUDGE seconds until the monitor's status file shows a detection pass over a frame captured after the
#: attack ended (the pass runs when a frame arrives at least 0.5 s after the previous pass); at most SETTLE_MAX
#: seconds, so a loaded machine waits longer instead of missing an alert
SETTLE_NUDGE = 0.5
SETTLE_MAX = 30.0
#: the same when the monitor is off or the attack is on the archive (the gateway flushes within ~50 ms)
SETTLE_QUICK = 0.4
#: the gateway's Security Alert event types (PS3.16 CID 401) -> a rule name for the results: 110126 rejected
#: associations and protocol violations, 110132 refused requests and inspection, 110129 containment (docs/gateway.md)
GATEWAY_RULES = {"110126": "node-authentication", "110132": "restricted-function", "110131": "configuration",
                 "110129": "containment"}
#: layers that can stop an attack (the others only see it)
PREVENTING = ("gateway", "tls", "seal+audit")
#: archive audit findings that are alerts (lower severities are posture notes)
ALERT_SEVERITIES = ("critical", "high", "medium")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _jsonl(path: str) -> list[dict[str, Any]]:
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _folded(doc: dict[str, Any]) -> bool:
    """A count of hostile acts written when its window closed (its first act had its own record at once)."""
    objects = doc.get("objects") or [{}]
    return isinstance(objects[0], dict) and (objects[0].get("details") or {}).get("kind") == "folded"


def trail_alerts(st: RangeState, since: float, until: float, off: frozenset[str]) -> list[dict[str, Any]]:
    """Security alerts of the gateway's and the monitor's audit trails with ``since <= time <= until``."""
    alerts: list[dict[str, Any]] = []
    if "gateway" not in off:
        for doc in _jsonl(st.gateway_audit):
            if doc.get("event") != "110113" or not doc.get("time") or _folded(doc):
                continue
            t = _epoch(str(doc["time"]))
            types = [str(c) for c in doc.get("event_types") or []]
            rule = next((GATEWAY_RULES[c] for c in types if c in GATEWAY_RULES), "security-alert")
            if str(doc.get("description", "")).startswith("honeytoken-touched"):
                rule = "honeytoken-touched"
            if rule in ("containment",) or "reload" in str(doc.get("description", "")):
                continue
            if since <= t <= until:
                alerts.append({"layer": "gateway", "rule": rule, "time": t})
    if "decoy" not in off and st.decoy_alerts:
        for doc in _jsonl(st.decoy_alerts):
            t = _epoch(str(doc.get("time")))
            if since <= t <= until:
                alerts.append({"layer": "decoy", "rule": str(doc.get("rule")), "time": t})
    if "monitor" not in off:
        for doc in _jsonl(st.monitor_alerts):
            t = _epoch(str(doc.get("time")))
            if since <= t <= until:
                rule = str(doc.get("description", "")).split(" (", 1)[0]
                alerts.append({"layer": "monitor", "rule": rule, "time": t})
    return alerts


def archive_audit(st: RangeState, off: frozenset[str]) -> tuple[list[dict[str, Any]], int]:
    """Run ``radguard audit`` on the archive; its alert findings as (layer, rule, time) and how many are high+."""
    if "seal+audit" in off and "canaries" in off:
        return [], 0
    rc, doc = radguard(["audit", st.archive_dir, "--key", st.key + ".pub", "--workers", "1", "--json"], st.dir)
    if rc not in (0, 1):
        raise RuntimeError(f"radguard audit failed (exit {rc})")
    finished = time.time()
    run_id = doc.get("run")
    if run_id is not None:
        from radguard.store import open_store

        store = open_store(f"sqlite:///{st.db}")
        try:
            info = store.get_run(int(run_id))
            if info is not None and info.finished is not None:
                finished = info.finished.timestamp()
        finally:
            store.close()
    alerts, bad = [], 0
    for f in doc.get("findings", []):
        bad += f.get("severity") in ("critical", "high")
        if f.get("severity") not in ALERT_SEVERITIES:
            continue
        layer = "canaries" if f.get("rule") == "canary-touched" else "seal+audit"
        if layer not in off:
            alerts.append({"layer": layer, "rule": str(f.get("rule")), "time": finished})
    return alerts, bad


def recover(st: RangeState, off: frozenset[str]) -> tuple[float | None, bool]:
    """Restore the archive from the backup; (seconds until verified clean, verified)."""
    if "backups" in off:
        return None, False
    t0 = time.time()
    if "seal+audit" in off:  # no ledger to verify against: a plain restore, unverified
        for src in Path(st.backup_dir).rglob("*"):
            if src.is_file():
                dst = Path(st.archive_dir) / src.relative_to(st.backup_dir)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        return round(time.time() - t0, 3), False
    radguard(["recover", "--from", st.backup_dir, st.archive_dir, "--apply", "--json"], st.dir,
             echo_stderr=False)  # its timing line: the runner measures recovery itself
    _, bad = archive_audit(st, frozenset({"canaries"}))
    return round(time.time() - t0, 3), bad == 0


def settle(st: RangeState, monitor: bool) -> None:
    """Wait until the alerts of what just happened are in the audit trails: two monitor passes over frames
    captured after the attack ended (the second: a detection that needs the window's next frame has run too)."""
    time.sleep(SETTLE_QUICK)
    if monitor:
        lab.monitor_passes(st, time.time(), 2, timeout=SETTLE_MAX, nudge=SETTLE_NUDGE)


def reset_archive(st: RangeState) -> None:
    """The archive and its backup back to their sealed state (from the pristine copy)."""
    copy_tree(Path(st.pristine_dir), Path(st.archive_dir))
    copy_tree(Path(st.pristine_dir), Path(st.backup_dir))


def _summarise(attack: Attack, outcome: Outcome | None, alerts: list[dict[str, Any]], t0: float,
               off: frozenset[str], error: str | None) -> dict[str, Any]:
    first: dict[str, dict[str, Any]] = {}
    for a in sorted(alerts, key=lambda a: float(a["time"])):
        first.setdefault(str(a["layer"]), a)
    detected = [{"layer": layer, "rule": a["rule"], "time_to_detect_ms": max(0, round((a["time"] - t0) * 1000))}
                for layer, a in first.items()]
    success = bool(outcome and outcome.success)
    prevented = [] if success or outcome is None else [layer for layer in PREVENTING if layer in first]
    if outcome is not None and not success:  # a silent layer (TLS), shown by the attacker's own measurement
        prevented += [layer for layer in outcome.blocked_by if layer not in off and layer not in prevented]
    ttd = min((d["time_to_detect_ms"] for d in detected), default=None)
    return {**attack.describe(), "layers_off": sorted(off), "success": success,
            "prevented_by": prevented, "detected_by": detected, "time_to_detect_ms": ttd,
            "impact": dict(outcome.impact) if outcome else {}, "note": outcome.note if outcome else "",
            "error": error}


def run_attack(st: RangeState, attack: Attack, off: frozenset[str] = frozenset(), *,
               work: Path | None = None) -> dict[str, Any]:
    """Run one attack with the layers ``off`` switched off, benign traffic in the background; its result."""
    work = work or Path(tempfile.mkdtemp(prefix="range-", dir=st.run_dir))
    ctx = Context(st, off, work)
    outcome: Outcome | None = None
    error: str | None = None
    from radguard.range.samples import bundled

    with Benign(ctx, bundled("CT_small.dcm")) as benign:
        t0 = time.time()
        try:
            outcome = attack.run(ctx)
        except Exception as exc:  # a peer that died mid-run is a per-attack error, never a hang
            error = f"{type(exc).__name__}: {exc}"
        settle(st, "monitor" not in off and not attack.archive)
        alerts = trail_alerts(st, t0, time.time(), off)
        recovery: float | None = None
        verified = False
        if attack.archive:
            try:
                found, _ = archive_audit(st, off)
                alerts += found
                if any(a["layer"] in ("seal+audit", "canaries") for a in found) or "seal+audit" in off:
                    recovery, verified = recover(st, off)
            except Exception as exc:
                error = error or f"{type(exc).__name__}: {exc}"
    result = _summarise(attack, outcome, alerts, t0, off, error)
    result["seconds"] = round(time.time() - t0, 2)
    result["recovery_s"] = recovery
    result["recovery_verified"] = verified
    result["benign_ops"] = dict(benign.ops)
    result["benign_failed"] = dict(benign.failed)
    for undo in ctx.cleanups:
        undo()
    if attack.archive:
        reset_archive(st)
    shutil.rmtree(work, ignore_errors=True)
    return result


def false_positives(st: RangeState, seconds: float, off: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Benign traffic alone for ``seconds`` and an audit of the untouched archive: alerts per layer."""
    work = Path(tempfile.mkdtemp(prefix="range-benign-", dir=st.run_dir))
    ctx = Context(st, off, work)
    from radguard.range.samples import bundled

    with Benign(ctx, bundled("CT_small.dcm")) as benign:
        t0 = time.time()
        time.sleep(seconds)
    settle(st, "monitor" not in off)
    alerts = trail_alerts(st, t0, time.time(), off)
    alerts += archive_audit(st, off)[0]
    shutil.rmtree(work, ignore_errors=True)
    per_layer = {layer: sum(1 for a in alerts if a["layer"] == layer) for layer in DEPLOYED if layer not in off}
    return {"seconds": seconds, "benign_ops": benign.ops, "benign_failed": benign.failed,
            "false_positives": per_layer, "alerts": alerts}


def _phase(st: RangeState, off: frozenset[str]) -> None:
    """Switch the running processes to match ``off`` (the monitor restarts so its alert memory is fresh)."""
    lab.restart(st, "monitor", running="monitor" not in off)
    if st.decoy_port and (st.proc("decoy") is None) != ("decoy" in off):
        lab.restart(st, "decoy", running="decoy" not in off)


def restore(st: RangeState) -> None:
    """Every layer back on (after a run with layers switched off)."""
    if any(st.proc(name) is None or not st.proc(name).alive()  # type: ignore[union-attr]
           for name in ("monitor", "decoy") if name != "decoy" or st.decoy_port):
        _phase(st, frozenset())


def run_library(st: RangeState, attacks: Sequence[Attack], off: frozenset[str] = frozenset(),
                progress: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every attack of ``attacks`` in turn with ``off`` switched off."""
    _phase(st, off)
    results = []
    for attack in attacks:
        res = run_attack(st, attack, off)
        results.append(res)
        if attack.noisy and "monitor" not in off:
            lab.restart(st, "monitor")
        if progress:
            progress(res)
    return results


def ablate(st: RangeState, attacks: Sequence[Attack], baseline: list[dict[str, Any]],
           progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Each deployed layer switched off in turn; only the attacks that expect it rerun; the attacks x layers table."""
    cells: dict[str, dict[str, Any]] = {}
    for layer in DEPLOYED:
        rerun = [a for a in attacks if layer in a.layers]
        if not rerun:
            continue
        say(f"• ablation: {layer} off ({len(rerun)} attacks)")
        for res in run_library(st, rerun, frozenset({layer}), progress):
            cells.setdefault(res["attack"], {})[layer] = _cell(res)
    _phase(st, frozenset())
    by_name = {r["attack"]: r for r in baseline}
    rows = []
    for a in attacks:
        base = by_name.get(a.name)
        rows.append({"attack": a.name, "expected_layers": list(a.layers),
                     "all_on": _cell(base) if base else None, "off": cells.get(a.name, {})})
    return {"layers": list(DEPLOYED), "rows": rows, "defense_in_depth": depth_score(baseline)}


def _cell(res: dict[str, Any]) -> dict[str, Any]:
    return {"success": res["success"], "prevented_by": res["prevented_by"],
            "detected_by": [d["layer"] for d in res["detected_by"]], "error": res["error"],
            "impact": res["impact"], "recovery_s": res.get("recovery_s")}


def depth_score(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Attacks stopped or seen by at least two independent layers (the defense-in-depth score)."""
    deep = [r["attack"] for r in results if len({d["layer"] for d in r["detected_by"]} | set(r["prevented_by"])) >= 2]
    return {"attacks": len(results), "two_or_more_layers": len(deep), "names": deep}


def per_layer(results: list[dict[str, Any]], fps: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per layer: attacks stopped, attacks seen, false positives, time to detect (median, max)."""
    out: dict[str, dict[str, Any]] = {}
    for layer in LAYERS:
        ttd = sorted(d["time_to_detect_ms"] for r in results for d in r["detected_by"] if d["layer"] == layer)
        out[layer] = {
            "deployed": layer in DEPLOYED,
            "stopped": sum(1 for r in results if layer in r["prevented_by"]),
            "seen": sum(1 for r in results if any(d["layer"] == layer for d in r["detected_by"])),
            "false_positives": fps.get("false_positives", {}).get(layer, 0),
            "recovered": sum(1 for r in results if r.get("recovery_verified")) if layer == "backups" else 0,
            "time_to_detect_ms": {"median": ttd[len(ttd) // 2] if ttd else None, "max": ttd[-1] if ttd else None},
        }
    return out


def document(st: RangeState, results: list[dict[str, Any]], fps: dict[str, Any],
             ablation: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``radguard.range/1`` document (without the ``schema`` key, which :func:`emit_json` adds)."""
    return {"range": st.run_dir, "attacks": results, "layers": per_layer(results, fps), "benign": fps,
            "ablation": ablation, "defense_in_depth": depth_score(results),
            "totals": {"attacks": len(results), "succeeded": sum(r["success"] for r in results),
                       "stopped": sum(bool(r["prevented_by"]) for r in results),
                       "seen": sum(bool(r["detected_by"]) for r in results),
                       "missed": sum(1 for r in results if r["success"] and not r["detected_by"]),
                       "errors": sum(1 for r in results if r["error"])}}
