"""Stateless archive checks, one module each (see docs/archive.md for rules and thresholds).

Every module defines ``RULE`` (:class:`radguard.models.Rule`, a row of ``inspect/rules.toml``) and
``check(obj) -> Iterator[Finding]``; :data:`CHECKS` runs them in a fixed order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType

from radguard.inspect.checks import active_content, malformed, not_dicom, preamble, trailing
from radguard.inspect.obj import ArchiveObject
from radguard.models import Finding

#: bump when a check's logic changes: cached results of sealed objects are then recomputed
CHECKS_VERSION = "1"

Check = Callable[[ArchiveObject], Iterator[Finding]]

MODULES: tuple[ModuleType, ...] = (preamble, trailing, not_dicom, malformed, active_content)
CHECKS: tuple[Check, ...] = tuple(m.check for m in MODULES)


def run_checks(obj: ArchiveObject) -> list[Finding]:
    """All stateless checks on one object, in order."""
    out: list[Finding] = []
    for check in CHECKS:
        out.extend(check(obj))
    return out
