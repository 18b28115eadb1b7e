"""The range's results for people: one progress line per attack, the efficacy and ablation tables and the
closing figures (time to detect median/max per layer, false positives, objects lost, recovery time)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def outcome(res: Mapping[str, Any]) -> str:
    """``stopped``, ``seen``, ``through`` (objective reached unseen), ``failed`` or ``error``."""
    if res.get("error"):
        return "error"
    if res.get("prevented_by"):
        return "stopped"
    if res.get("detected_by"):
        return "seen"
    return "through" if res.get("success") else "failed"


def progress_line(res: Mapping[str, Any]) -> str:
    off = f" [{','.join(res['layers_off'])} off]" if res.get("layers_off") else ""
    seen = ", ".join(f"{d['layer']}:{d['rule']}@{d['time_to_detect_ms']}ms" for d in res.get("detected_by", []))
    return f"  {res['attack']:<24}{off} {outcome(res):<8} {seen}" + (f" error: {res['error']}" if res.get("error")
                                                                      else "")


def efficacy_lines(doc: Mapping[str, Any]) -> list[str]:
    """The attacks x outcome table, the ablation table and the closing figures."""
    lines = ["", "defense efficacy on the range (attack -> outcome, stopped by / seen by, time to detect)"]
    for r in doc.get("attacks", []):
        seen = ",".join(d["layer"] for d in r["detected_by"]) or "-"
        ttd = "-" if r["time_to_detect_ms"] is None else f"{r['time_to_detect_ms']} ms"
        lines.append(f"  {r['attack']:<24} {outcome(r):<8} stopped:{','.join(r['prevented_by']) or '-':<11} "
                     f"seen:{seen:<28} {ttd}")
    ab = doc.get("ablation")
    if ab:
        layers = ab["layers"]
        lines += ["", "ablation (each layer off in turn; blank = not rerun)",
                  "  " + f"{'attack':<24} {'all on':<8} " + " ".join(f"{lay + ' off':<14}" for lay in layers)]
        for row in ab["rows"]:
            cells = [outcome(row["all_on"]) if row["all_on"] else ""]
            cells += [outcome(row["off"][lay]) if lay in row["off"] else "" for lay in layers]
            lines.append("  " + f"{row['attack']:<24} {cells[0]:<8} " + " ".join(f"{c:<14}" for c in cells[1:]))
    t = doc.get("totals", {})
    depth = doc.get("defense_in_depth", {})
    lines += ["", f"  {t.get('attacks', 0)} attacks: {t.get('stopped', 0)} stopped, {t.get('seen', 0)} seen, "
                  f"{t.get('missed', 0)} through unseen, {t.get('errors', 0)} errors; "
                  f"{depth.get('two_or_more_layers', 0)} met >= 2 layers"]
    for name, lay in doc.get("layers", {}).items():
        if not lay["deployed"]:
            continue
        ttd = lay["time_to_detect_ms"]
        note = f"  recovered {lay['recovered']} (verified clean)" if name == "backups" else ""
        lines.append(f"  {name:<11} stopped {lay['stopped']:>2}  seen {lay['seen']:>2}  false positives "
                     f"{lay['false_positives']}  time to detect median {ttd['median']} ms, max {ttd['max']} ms{note}")
    lost = sum(int(r["impact"].get("objects_lost", 0)) for r in doc.get("attacks", []))
    rec = [r["recovery_s"] for r in doc.get("attacks", []) if r.get("recovery_s") is not None]
    lines.append(f"  objects lost {lost}; recovery {min(rec, default=0)}-{max(rec, default=0)} s "
                 f"({sum(1 for r in doc.get('attacks', []) if r.get('recovery_verified'))} verified clean)")
    return lines
