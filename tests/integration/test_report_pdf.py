"""The report as a user gets it: WeasyPrint PDF rendered to PNG by pdftoppm and read back by pdftotext."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from radguard.models import Finding, Severity
from radguard.report.document import write_posture_report
from radguard.store import open_store

pytestmark = pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (pdftoppm) not installed")


def test_pdf_renders_to_pages_that_read_back_the_figures(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    run = store.start_run("audit", {})
    run.add_findings([
        Finding(rule="pixel-tampered", severity=Severity.CRITICAL, title="Pixel data changed since sealed",
                target=f"/archive/{i}.dcm", evidence={"frames": [0]}, remediation="Recover from backup",
                controls=("hipaa:164.312(c)(1)",))
        for i in range(60)  # enough rows for several pages
    ])
    run.finish()
    files = write_posture_report(store, tmp_path / "out", site="Radiology West")
    assert files.pdf is not None and files.pdf.read_bytes().startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(files.pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    for page in pages:
        head = page.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", head[16:24])
        assert width > 200 and height > 200
    text = subprocess.run(["pdftotext", "-layout", str(files.pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert "Security posture of Radiology West" in text
    assert "60 open findings across 1 layer" in text
    assert "pixel-tampered" in text and "Recover from backup" in text
    assert "page 1 of" in text
