"""``malformed``: the data set does not parse cleanly (PS3.5 §7: length overruns, truncation,
invalid VRs, tag order; PS3.10 §7.1: file meta group), with the first offending offset and tag.

A headerless file (no preamble/magic) and a VR encoding that contradicts the transfer syntax
are reported as ``low``; a broken structure as ``medium``.
"""

from __future__ import annotations

from collections.abc import Iterator

from radguard import rulebook
from radguard.inspect.obj import ArchiveObject
from radguard.inspect.tags import keyword, tag_str
from radguard.models import Finding, Severity

RULE = rulebook.rule("malformed")


def check(obj: ArchiveObject) -> Iterator[Finding]:
    p = obj.part10
    if not obj.is_dicom:
        return  # not-dicom reports it
    if p.issue is not None:
        yield RULE.finding(
            obj.target,
            {
                "problem": p.issue.kind.value,
                "offset": p.issue.offset,
                "tag": tag_str(p.issue.tag),
                "keyword": keyword(p.issue.tag),
                "detail": p.issue.detail,
                "elements_parsed": len(p.elements),
                "size": obj.size,
            },
        )
    if p.vr_mismatch:
        yield RULE.finding(
            obj.target,
            {"problem": "vr-encoding-mismatch", "transfer_syntax": str(p.transfer_syntax),
             "encoded_as": "explicit" if p.explicit else "implicit"},
            severity=Severity.LOW,
            title="Data set VR encoding contradicts its transfer syntax",
        )
    if obj.expect_part10 and not p.has_magic:
        yield RULE.finding(
            obj.target,
            {"problem": "no-part10-header", "size": obj.size},
            severity=Severity.LOW,
            title="DICOM data set without Part 10 preamble and file meta",
        )
