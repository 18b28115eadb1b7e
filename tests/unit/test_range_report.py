"""The range report through the shared rendering layer: strict HTML, PDF read back as PNG and text."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import html5lib
import pytest

from radguard.range.report import range_html, write_range_report
from radguard.range.runner import document
from radguard.range.state import RangeState


def _state(tmp_path: Path) -> RangeState:
    return RangeState(
        run_dir=str(tmp_path), host="127.0.0.1", pacs_ae="PACS", pacs_port=1, pacs_http_port=2, gateway_ae="RADGUARD",
        gateway_port=3, workstation_ae="WS01", workstation_port=4, workstation_store="", archive_ae="ARCHIVE",
        archive_port=5, rogue_ae="EXFIL", rogue_port=6, rogue_store="", archive_dir="", backup_dir="", pristine_dir="",
        key="", db="", gateway_config="", gateway_audit="", monitor_alerts="", monitor_filter="")


def _result(name: str, *, success: bool, prevented: list[str], seen: list[tuple[str, str, int]],
            impact: dict[str, int], recovery: float | None = None) -> dict[str, Any]:
    return {"attack": name, "title": name.replace("-", " ").capitalize(), "attack_ids": ["T1486"],
            "precondition": "p", "objective": "o", "expected_layers": ["gateway"], "layers_off": [],
            "success": success, "prevented_by": prevented,
            "detected_by": [{"layer": la, "rule": r, "time_to_detect_ms": ms} for la, r, ms in seen],
            "time_to_detect_ms": min((ms for _, _, ms in seen), default=None), "impact": impact, "note": "",
            "error": None, "recovery_s": recovery, "recovery_verified": recovery is not None}


def _doc(tmp_path: Path) -> dict[str, Any]:
    results = [
        _result("move-exfil", success=False, prevented=["gateway"], seen=[("gateway", "restricted-function", 41),
                                                                          ("monitor", "bulk-retrieve", 900)],
                impact={"objects_exfiltrated": 0}),
        _result("ransomware-full", success=True, prevented=[], seen=[("seal+audit", "unexpected", 2500),
                                                                     ("canaries", "canary-touched", 2500)],
                impact={"objects_altered": 26}, recovery=3.1),
        _result("rest-harvest", success=True, prevented=[], seen=[], impact={"objects_exfiltrated": 3}),
    ]
    fps = {"seconds": 5.0, "benign_ops": {"store": 2, "find": 1}, "benign_failed": {},
           "false_positives": {"gateway": 0, "monitor": 0, "seal+audit": 0, "canaries": 0, "backups": 0}}
    cell = {"success": True, "prevented_by": [], "detected_by": [], "error": None, "impact": {}, "recovery_s": None}
    ablation = {"layers": ["gateway", "monitor"], "defense_in_depth": {},
                "rows": [{"attack": "move-exfil", "expected_layers": ["gateway"], "all_on": cell,
                          "off": {"gateway": cell}}]}
    doc = document(_state(tmp_path), results, fps, ablation)
    return {"schema": "radguard.range/1", **doc}


def test_range_html_is_strict_html_with_every_table(tmp_path: Path) -> None:
    html = range_html(_doc(tmp_path))
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(html)
    assert not parser.errors
    for section in ("summary", "layers", "efficacy", "ablation", "next"):
        assert f'id="{section}"' in html
    assert html.count("<svg") == 2
    assert "<img" not in html and "<link" not in html  # self-contained: nothing to resolve
    assert "Rest harvest</strong> reached its objective unseen" in html


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (pdftoppm) not installed")
def test_range_pdf_reads_back_as_png_and_text(tmp_path: Path) -> None:
    html, pdf = write_range_report(_doc(tmp_path), tmp_path / "out")
    assert html.exists() and pdf is not None and pdf.read_bytes().startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert pages
    width, height = struct.unpack(">II", pages[0].read_bytes()[16:24])
    assert width > 200 and height > 200
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert "Defense efficacy, measured on the range" in text
    assert "move-exfil" in text and "ransomware-full" in text and "gateway off" in text
