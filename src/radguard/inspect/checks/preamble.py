"""``executable-preamble``: the 128-byte preamble holds an executable or other non-TIFF content.

DICOM PS3.10 §7.1 leaves the preamble to applications and §7.5 documents the TIFF dual-format
use; CVE-2019-11687 shows PE/ELF/Mach-O preambles turn an image into a runnable polyglot.
Severity by kind (:data:`radguard.inspect.magic.KIND_SEVERITY`); TIFF and all-zero are fine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from radguard import rulebook
from radguard.inspect.magic import KIND_SEVERITY, ContentKind, classify
from radguard.inspect.obj import ArchiveObject
from radguard.models import Finding

RULE = rulebook.rule("executable-preamble")

_ALLOWED = frozenset({ContentKind.EMPTY, ContentKind.TIFF})


def check(obj: ArchiveObject) -> Iterator[Finding]:
    pre = obj.part10.preamble
    if pre is None:
        return
    kind = classify(pre)
    if kind in _ALLOWED:
        return
    nonzero = next(i for i, b in enumerate(pre) if b)
    sev = KIND_SEVERITY[kind]
    yield RULE.finding(
        obj.target,
        {
            "kind": kind.value,
            "first_nonzero_offset": nonzero,
            "nonzero_bytes": sum(1 for b in pre if b),
            "preamble_sha256": hashlib.sha256(pre).hexdigest(),
        },
        severity=sev,
        title=f"Preamble holds {kind.value} content" if kind != ContentKind.OTHER else "Preamble is not zero",
    )
