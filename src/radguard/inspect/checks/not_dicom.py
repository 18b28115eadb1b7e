"""``not-dicom``: neither a Part 10 file (PS3.10 §7.1 ``DICM`` magic) nor a parseable data set.

Says when the file looks encrypted: the first block random (entropy >= ``RANDOM_BITS``) and no
known container magic; partially encrypted when a later block is still structured; a ransomware
extension on the name; a ransom note (name and >= 2 note words). Thresholds in docs/archive.md.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

from radguard import rulebook
from radguard.inspect.entropy import (
    BLOCK,
    HEAD,
    RANDOM_BITS,
    STRUCTURED_BITS,
    ransom_extension,
    ransom_note_words,
    round_bits,
    shannon,
)
from radguard.inspect.magic import ContentKind, classify
from radguard.inspect.obj import ArchiveObject
from radguard.models import Finding, Severity

RULE = rulebook.rule("not-dicom")


class Verdict(enum.StrEnum):
    ENCRYPTED = "encrypted"
    PARTIALLY_ENCRYPTED = "partially-encrypted"
    RANSOM_NOTE = "ransom-note"
    FOREIGN = "foreign"  # some other file type


def check(obj: ArchiveObject) -> Iterator[Finding]:
    if obj.is_dicom:
        return
    data = obj.data
    head = bytes(data[:HEAD])
    kind = classify(head[:132])
    ext = ransom_extension(obj.name)
    evidence: dict[str, object] = {"size": obj.size, "kind": kind.value}
    if ext:
        evidence["ransom_extension"] = ext
    words = ransom_note_words(obj.name, data)
    head_bits = shannon(head)
    evidence["head_entropy"] = round_bits(head_bits)
    verdict = Verdict.FOREIGN
    if words:
        verdict = Verdict.RANSOM_NOTE
        evidence["note_words"] = words
    elif kind in (ContentKind.OTHER, ContentKind.EMPTY) and head_bits >= RANDOM_BITS and len(head) >= 256:
        verdict = Verdict.ENCRYPTED
        rest = data[HEAD:]
        if len(rest) >= BLOCK:
            # sample the last block and the middle one: a structured one means the tail is intact
            samples = [rest[len(rest) // 2 : len(rest) // 2 + BLOCK], rest[-BLOCK:]]
            bits = min(shannon(s) for s in samples)
            evidence["tail_entropy"] = round_bits(bits)
            if bits < STRUCTURED_BITS:
                verdict = Verdict.PARTIALLY_ENCRYPTED
                evidence["encrypted_prefix_at_least"] = HEAD
    elif ext and head_bits >= RANDOM_BITS:
        verdict = Verdict.ENCRYPTED
    evidence["verdict"] = verdict.value
    if verdict == Verdict.FOREIGN:
        sev = Severity.MEDIUM if ext else RULE.severity
        title = "Not a DICOM file"
    else:
        sev = Severity.CRITICAL
        title = {
            Verdict.ENCRYPTED: "File looks encrypted (ransomware?)",
            Verdict.PARTIALLY_ENCRYPTED: "File looks partially encrypted (first KiBs random, rest intact)",
            Verdict.RANSOM_NOTE: "Ransom note in the archive tree",
        }[verdict]
    yield RULE.finding(obj.target, evidence, severity=sev, title=title)
