"""Stateless inspection of one object: the API the gateway and the pcap monitor reuse.

>>> findings = inspect_bytes(open("x.dcm", "rb").read(), "x.dcm")   # doctest: +SKIP
>>> findings = inspect_dataset(dataset_bytes, "1.2.840.10008.1.2", "peer:AE")  # doctest: +SKIP

Runs ``executable-preamble``, ``trailing-data``, ``not-dicom``, ``malformed`` and
``active-content`` (docs/archive.md). Never raises on hostile bytes.
"""

from __future__ import annotations

import os

from radguard import rulebook
from radguard.inspect.checks import run_checks
from radguard.inspect.obj import ArchiveObject, from_bytes, read_object
from radguard.models import Finding

UNREADABLE = rulebook.rule("unreadable")


def inspect_bytes(data: bytes, target: str) -> list[Finding]:
    """Every stateless check on one Part 10 file's bytes (a bare data set is detected and accepted)."""
    return run_checks(from_bytes(data, target))


def inspect_dataset(data: bytes, transfer_syntax: str, target: str) -> list[Finding]:
    """Every stateless check on a bare data set (no preamble/meta), e.g. a C-STORE request's data set.

    ``transfer_syntax`` is the accepted presentation context's transfer syntax UID (PS3.8 §9.3.2.2).
    """
    return inspect_dataset_parsed(data, transfer_syntax, target)[0]


def inspect_dataset_parsed(data: bytes, transfer_syntax: str, target: str) -> tuple[list[Finding], ArchiveObject]:
    """:func:`inspect_dataset`, also returning the object the checks ran on (parsed once).

    Its ``part10`` gives the caller what else it needs from the data set (the gateway's audit
    identifiers) without parsing the bytes a second time.
    """
    obj = from_bytes(data, target, transfer_syntax=transfer_syntax)
    return run_checks(obj), obj


def unreadable(target: str, exc: OSError) -> Finding:
    """The ``unreadable`` result of a file that could not be opened or read."""
    return UNREADABLE.finding(target, {"error": type(exc).__name__, "errno": exc.errno,
                                       "reason": os.strerror(exc.errno) if exc.errno else str(exc)})


def inspect_path(path: str | os.PathLike[str]) -> list[Finding]:
    """Read one file once and run every stateless check; an unreadable file is a finding."""
    target = os.fspath(path)
    try:
        obj = read_object(target)
    except OSError as exc:
        return [unreadable(target, exc)]
    try:
        return run_checks(obj)
    finally:
        obj.close()
