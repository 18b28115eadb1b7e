"""The range report through the shared rendering layer: strict HTML, PDF read back as PNG and text."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import html5lib
import pytest

from radguard.range.report import range_html, write_range_report
from tests.support.rangedoc import range_doc as _doc


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
