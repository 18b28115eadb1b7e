"""radguard.inspect.tags.keyword: pydicom's keyword_for_tag for every tag, without importing pydicom."""

from __future__ import annotations

import subprocess
import sys

from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary
from pydicom.datadict import keyword_for_tag

from radguard.inspect.tags import keyword, tag_str


def _repeater_tags() -> list[int]:
    out = []
    for mask in RepeatersDictionary:
        for digit in "0123456789ABCDEF":
            out.append(int(mask.replace("x", digit), 16))
        out.append(int(mask.replace("x", "0", 1).replace("x", "E"), 16))
    return out


def test_keyword_equals_pydicom_for_every_tag() -> None:
    tags = [*DicomDictionary, *_repeater_tags(), 0x00000000, 0x00080000, 0x7FE00000, 0x00100000, 0x50000000,
            0x60003000, 0x60103000, 0x60200010, 0x00081234, 0xFFFEE000, 0xFFFFFFFF, 0x00200000]
    tags += [(g << 16) | e for g in range(0, 0x7FF0, 0x0A2) for e in (0, 0x10, 0x1000, 0x3000)]
    checked = 0
    for tag in tags:
        if (tag >> 16) & 1:
            assert keyword(tag) == "private"
            continue
        assert keyword(tag) == keyword_for_tag(tag), tag_str(tag)
        checked += 1
    assert checked > 5000
    assert keyword(0x00100010) == "PatientName"
    assert keyword(0x60003000) == "OverlayData"  # a repeating group (60xx,3000)
    assert keyword(0x00091010) == "private"
    assert keyword(None) == ""
    assert keyword(0x00990000 | 0x1234) == "private"
    assert keyword(0x00083333) == ""  # not in the dictionary


def test_keyword_does_not_import_pydicom() -> None:
    code = ("import sys; from radguard.inspect.tags import keyword; "
            "assert keyword(0x00100010) == 'PatientName' and keyword(0x50000010) == 'NumberOfPoints'; "
            "assert 'pydicom' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
