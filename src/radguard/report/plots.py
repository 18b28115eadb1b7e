"""Plots for every face (report, governance report, console): matplotlib, rendered to SVG text.

SVG stays sharp in a browser and in WeasyPrint's PDF and is inlined in the page, so a report is
one self-contained file. Output is deterministic (fixed hash salt, no date in the metadata): the
same posture draws the same bytes. matplotlib is imported on first use only (it costs ~0.3 s).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

#: one colour per severity, worst first (colour-blind safe: ColorBrewer RdYlBu, with grey for info)
SEVERITY_COLOURS: Mapping[str, str] = {
    "critical": "#a50026",
    "high": "#f46d43",
    "medium": "#fdae61",
    "low": "#74add1",
    "info": "#bababa",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    matplotlib.rcParams.update({"svg.hashsalt": "radguard", "svg.fonttype": "none", "font.size": 9,
                                "font.family": "DejaVu Sans"})
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": "radguard"})
    _pyplot().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # inline in HTML: no XML declaration or DOCTYPE


def _frame(ax: Any, title: str) -> None:
    """The house style of every plot: the title on the left, no top or right spine."""
    ax.set_title(title, loc="left")
    ax.spines[["top", "right"]].set_visible(False)


def _stacked_bars(ax: Any, labels: Sequence[str], segments: Iterable[tuple[str, str, Sequence[int]]], *,
                  xlabel: str, title: str) -> None:
    """Horizontal bars, one per label, stacked from ``segments``: (legend label, colour, a value per bar)."""
    left = [0] * len(labels)
    for label, colour, values in segments:
        ax.barh(labels, values, left=left, color=colour, label=label, edgecolor="white", linewidth=0.5)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(xlabel)
    _frame(ax, title)


def severity_bars(rows: Sequence[tuple[str, Mapping[str, int]]], *, title: str) -> str:
    """Horizontal stacked bars: one row per label (a layer), segments per severity."""
    plt = _pyplot()
    height = 0.6 + 0.38 * max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(7.0, height))
    labels = [label for label, _ in rows] or ["(no runs yet)"]
    segments = ((sev, colour, [counts.get(sev, 0) for _, counts in rows] or [0])
                for sev, colour in SEVERITY_COLOURS.items())
    _stacked_bars(ax, labels, segments, xlabel="open findings", title=title)
    ax.legend(ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(rows) < 3 else -0.2), frameon=False)
    return _svg(fig)


def trend_lines(points: Sequence[tuple[str, datetime, Mapping[str, int]]], *, title: str,
                severities: Sequence[str] = ("critical", "high")) -> str:
    """Open findings at or above the given severities per run over time, one line per kind of run."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 2.6))
    kinds = sorted({k for k, _, _ in points})
    for kind in kinds:
        xs = [t for k, t, _ in points if k == kind]
        ys = [sum(c.get(s, 0) for s in severities) for k, _, c in points if k == kind]
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.2, label=kind)
    if not kinds:
        ax.text(0.5, 0.5, "no finished runs yet", ha="center", va="center", transform=ax.transAxes)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(" + ".join(severities))
    _frame(ax, title)
    if kinds:
        ax.legend(ncols=min(len(kinds), 4), frameon=False, fontsize=8)
    fig.autofmt_xdate()
    return _svg(fig)


#: risk levels very low .. very high (NIST SP 800-30 Rev. 1), coloured like the severities
LEVEL_COLOURS: tuple[str, ...] = ("#e0e0e0", "#74add1", "#fdae61", "#f46d43", "#a50026")
LEVEL_LABELS: tuple[str, ...] = ("very low", "low", "moderate", "high", "very high")


def risk_heatmap(cells: Mapping[tuple[int, int], int], matrix: Sequence[Sequence[int]], *, title: str) -> str:
    """A 5 x 5 likelihood x impact grid (SP 800-30 scales), each cell coloured by its risk level in
    ``matrix[likelihood][impact]`` (0..4) and labelled with the number of risks in it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    for lk in range(5):
        for im in range(5):
            ax.add_patch(plt.Rectangle((im, lk), 1, 1, facecolor=LEVEL_COLOURS[matrix[lk][im]], edgecolor="white",
                                       linewidth=2))
            n = cells.get((lk, im), 0)
            if n:
                ax.text(im + 0.5, lk + 0.5, str(n), ha="center", va="center", fontsize=12, fontweight="bold",
                        color="white" if matrix[lk][im] >= 3 else "black")
    ax.set_xlim(0, 5)
    ax.set_ylim(0, 5)
    ax.set_xticks([i + 0.5 for i in range(5)], LEVEL_LABELS, rotation=20)
    ax.set_yticks([i + 0.5 for i in range(5)], LEVEL_LABELS)
    ax.set_xlabel("impact")
    ax.set_ylabel("likelihood")
    ax.set_title(title, loc="left")
    ax.set_aspect("equal")
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    return _svg(fig)


#: one colour per layer of defense (the range report's plots)
LAYER_COLOURS: Mapping[str, str] = {
    "gateway": "#4575b4",
    "monitor": "#91bfdb",
    "seal+audit": "#fc8d59",
    "canaries": "#d73027",
    "backups": "#1a9850",
    "tls": "#999999",
    "decoy": "#762a83",
}


def time_to_detect(rows: Sequence[tuple[str, Mapping[str, float]]], *, title: str) -> str:
    """Time to detect per attack (ms, log scale): one marker per layer that saw the attack."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 0.6 + 0.26 * max(len(rows), 1)))
    labels = [label for label, _ in rows] or ["(no attack seen)"]
    for layer, colour in LAYER_COLOURS.items():
        pts = [(ms, i) for i, (_, by_layer) in enumerate(rows) if (ms := by_layer.get(layer)) is not None]
        if pts:
            ax.scatter([max(p[0], 1.0) for p in pts], [p[1] for p in pts], color=colour, label=layer, s=22, zorder=3)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.grid(axis="x", color="#ddd", linewidth=0.6)
    ax.set_xlabel("attack start to first alert (ms, log scale)")
    _frame(ax, title)
    if rows:
        ax.legend(ncols=6, loc="upper center", bbox_to_anchor=(0.5, -0.6 / max(len(rows), 1) ** 0.5 - 0.08),
                  frameon=False, fontsize=8)
    return _svg(fig)


def impact_bars(rows: Sequence[tuple[str, Mapping[str, int]]], *, title: str) -> str:
    """What each attack cost (objects lost / altered / exfiltrated / stored), one stacked bar per attack."""
    plt = _pyplot()
    kinds = sorted({k for _, impact in rows for k in impact})
    fig, ax = plt.subplots(figsize=(7.0, 0.6 + 0.26 * max(len(rows), 1)))
    labels = [label for label, _ in rows] or ["(no impact)"]
    palette = ["#a50026", "#f46d43", "#fdae61", "#74add1", "#4575b4", "#bababa"]
    segments = ((kind.replace("_", " "), palette[n % len(palette)], [impact.get(kind, 0) for _, impact in rows])
                for n, kind in enumerate(kinds))
    _stacked_bars(ax, labels, segments, xlabel="objects", title=title)
    if kinds:
        ax.legend(ncols=min(len(kinds), 4), frameon=False, fontsize=8)
    return _svg(fig)


def range_plots(doc: Mapping[str, Any]) -> dict[str, str]:
    """The two plots of a ``radguard.range/1`` document: time to detect and impact (range and posture reports)."""
    attacks = list(doc.get("attacks", []))
    ttd_rows = [(a["attack"], {d["layer"]: float(d["time_to_detect_ms"]) for d in a["detected_by"]})
                for a in attacks if a.get("detected_by")]
    impact_rows = [(a["attack"], {k: int(v) for k, v in a.get("impact", {}).items()
                                  if k.startswith("objects_") and int(v) > 0}) for a in attacks]
    return {
        "ttd": time_to_detect(ttd_rows, title="Time to detect, per attack and layer"),
        "impact": impact_bars([r for r in impact_rows if r[1]], title="Impact with every layer on"),
    }


def false_positive_total(doc: Mapping[str, Any]) -> int:
    """False alarms raised by benign traffic alone, summed over the layers of a ``radguard.range/1`` document."""
    return sum(int(v) for v in doc.get("benign", {}).get("false_positives", {}).values())
