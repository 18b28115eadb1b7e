"""``radguard seal | audit | recover | canary plant`` as library calls: open the store, start a run,
do the work, record what it found, finish the run (``failed`` if it did not complete), close the store.

The CLI only checks its arguments and prints; like :mod:`radguard.assess.run` and
:mod:`radguard.monitor.run`, each function here returns the store run id with the result.
The work itself is :func:`radguard.archive.seal.seal`, :func:`radguard.archive.audit.audit` and
:func:`radguard.archive.recover.recover` (45 CFR 164.312(c)(1), 164.308(a)(7)(ii)(A)/(B)).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from radguard.archive.quick import SealSummary

if TYPE_CHECKING:  # imported where used: SQLAlchemy is not loaded by a re-seal that changes nothing
    from radguard.archive.audit import AuditSummary, BurstThresholds
    from radguard.archive.recover import RecoverReport
    from radguard.store.api import RunHandle, Store

Progress = Callable[[int], None]


@contextmanager
def _opened() -> Iterator[Store]:
    """The store (``RADGUARD_DB``), closed afterwards; StoreError if it cannot be opened."""
    from radguard.store import open_store

    store = open_store()
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _run(store: Store, kind: str, params: Mapping[str, Any]) -> Iterator[RunHandle]:
    """A run of ``kind``; marked ``failed`` when the work raises (the caller finishes it otherwise)."""
    run = store.start_run(kind, dict(params))
    try:
        yield run
    except BaseException:
        run.finish(status="failed")
        raise


def run_seal(paths: list[str], key: object, *, workers: int = 1, dask: str | None = None, rehash: bool = False,
             decode_pixels: bool = False, progress: Progress | None = None) -> tuple[int, SealSummary]:
    """Seal ``paths`` with the signing ``key`` in a ``seal`` run; returns (run id, summary).

    A re-seal that would change nothing, or few files, is done by :func:`radguard.archive.delta.reseal` when
    the store allows it (SQLite), else by :func:`radguard.archive.seal.seal`."""
    params = {"paths": paths, "workers": workers, "dask": dask, "rehash": rehash}
    if not rehash and not dask:  # (--dask: the full seal connects to the scheduler, reachable or not)
        from radguard.archive.delta import reseal

        if (done := reseal(paths, key, params, workers=workers, decode_pixels=decode_pixels)) is not None:
            return done
    from radguard.archive.seal import seal

    with _opened() as store, _run(store, "seal", params) as run:
        summary = seal(store, paths, key, run, workers=workers, dask=dask, rehash=rehash,
                       decode_pixels=decode_pixels, progress=progress)
        run.finish(summary.to_dict())
        return run.id, summary


def run_audit(paths: list[str], *, workers: int = 1, dask: str | None = None, trusted_key: str | None = None,
              burst: BurstThresholds | None = None, progress: Progress | None = None) -> tuple[int, AuditSummary]:
    """Audit ``paths`` in an ``audit`` run (findings are written as they come); returns (run id, summary)."""
    from radguard.archive.audit import audit

    with _opened() as store, _run(store, "audit", {"paths": paths, "workers": workers, "dask": dask}) as run:
        summary = audit(store, paths, run, workers=workers, dask=dask, trusted_key=trusted_key, progress=progress,
                        burst=burst)
        run.finish(summary.to_dict())
        return run.id, summary


def run_recover(path: str, backup: str, *, apply: bool = False) -> tuple[int, RecoverReport]:
    """Plan (with ``apply``: perform) the restoration of ``path`` from ``backup`` in a ``recover`` run."""
    from radguard.archive.ledger import Ledger
    from radguard.archive.recover import recover

    with _opened() as store, _run(store, "recover", {"path": path, "backup": backup, "apply": apply}) as run:
        report = recover(Ledger(store), path, backup, apply=apply)
        run.add_findings(report.findings)
        run.finish(report.to_dict() | {"actions": len(report.actions)})
        return run.id, report


def run_canary_plant(path: str, count: int, key: object) -> tuple[int, list[str]]:
    """Write ``count`` decoys under ``path`` and seal them as canaries (a ``seal`` run); returns (run id, paths).

    The store is opened first, so nothing is written when it is unreachable.
    """
    from radguard.archive.seal import plant_canaries, seal
    with _opened() as store:
        planted = plant_canaries(path, count)
        with _run(store, "seal", {"paths": [path], "canaries": len(planted)}) as run:
            summary = seal(store, [path], key, run, canaries=frozenset(os.path.abspath(p) for p in planted))
            run.finish(summary.to_dict())
            return run.id, planted
