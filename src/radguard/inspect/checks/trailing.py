"""``trailing-data``: bytes after the end of the data set (a ZIP, PE or script riding along).

PS3.10 §7.1: a Part 10 file is preamble, magic, meta and exactly one data set; PS3.5 §7.1
orders elements by ascending tag, so anything that stops being an ascending element stream
after the pixel data (or starts with a foreign magic) is trailing data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from radguard import rulebook
from radguard.inspect.magic import KIND_SEVERITY, ContentKind, classify
from radguard.inspect.obj import ArchiveObject
from radguard.models import Finding, Severity

RULE = rulebook.rule("trailing-data")


def check(obj: ArchiveObject) -> Iterator[Finding]:
    p = obj.part10
    if p.trailing_offset is None:
        return
    if p.trailing_offset < 0:  # deflated data set: the trailer is inside the inflated stream
        yield RULE.finding(obj.target, {"kind": ContentKind.OTHER.value, "deflated": True},
                           severity=Severity.MEDIUM)
        return
    tail = p.dataset[p.trailing_offset :]
    kind = classify(bytes(tail[:132]))
    sev = max(KIND_SEVERITY[kind], Severity.MEDIUM)
    yield RULE.finding(
        obj.target,
        {
            "kind": kind.value,
            "offset": p.trailing_offset,
            "size": len(tail),
            "trailer_sha256": hashlib.sha256(tail).hexdigest(),
        },
        severity=sev,
        title=f"{len(tail)} bytes of {kind.value} data after the data set",
    )
