"""Spread batches over local processes or a Dask cluster, in order, with bounded work in flight.

``workers <= 1``, or work that fits in one batch, runs in this process. ``dask`` is a scheduler address (``tcp://host:8786``):
the same batch functions run on its workers through ``dask.distributed.Client.submit``.
Memory stays bounded: at most :data:`LOCAL_DEPTH` ``* workers`` batches (``2 * threads`` on Dask) are
queued at any time.

Local worker processes die with their parent: a ``kill -9`` of ``seal`` or ``audit`` must not leave
them running their batch out, orphaned (:func:`die_with_parent`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any, TypeVar

from radguard.errors import UsageError

#: seconds to wait for a Dask scheduler before giving up (exit 2)
CONNECT_TIMEOUT = 10.0
#: how often a worker's watchdog looks for its parent (a worker outlives it by at most about this)
WATCH_INTERVAL = 0.25
#: batches in flight per local worker: enough that the workers keep busy while this process writes a
#: transaction of results (a seal's main process is then off their critical path)
LOCAL_DEPTH = 4
#: ``prctl(2)`` option: the signal sent to this process when its parent dies (Linux)
PR_SET_PDEATHSIG = 1

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_ordered(fn: Callable[[T], R], batches: Iterable[T], *, workers: int = 1,
                dask: str | None = None) -> Iterator[R]:
    """Yield ``fn(batch)`` for each batch, in order."""
    if dask:
        yield from _dask(fn, batches, dask)
        return
    it = iter(batches)
    head = list(islice(it, 2))
    if workers <= 1 or len(head) < 2:  # one batch: starting a pool (fork, pipes) costs more than it saves
        for b in chain(head, it):
            yield fn(b)
        return
    batches = chain(head, it)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        yield from _pipeline(pool.submit, fn, batches, LOCAL_DEPTH * workers)


def die_with_parent(parent: int) -> None:
    """Worker initializer: end this process as soon as ``parent`` (the pool's owner) is gone.

    On Linux the kernel sends SIGKILL at the parent's death (``prctl(PR_SET_PDEATHSIG)``, see
    prctl(2)); everywhere, a daemon thread also checks every :data:`WATCH_INTERVAL` seconds that the
    parent is still this process's parent (an orphan is re-parented to init or a subreaper) and exits
    at once if not, even in the middle of a batch.
    """
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the watchdog alone
            pass
    if os.getppid() != parent:  # died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="radguard-parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    os._exit(1)  # no cleanup: the work belongs to a run that no longer exists


def _pipeline(submit: Callable[..., Any], fn: Callable[[T], R], batches: Iterable[T], depth: int) -> Iterator[R]:
    pending: deque[Any] = deque()
    for b in batches:
        pending.append(submit(fn, b))
        if len(pending) >= depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _dask(fn: Callable[[T], R], batches: Iterable[T], address: str) -> Iterator[R]:
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise UsageError(f"--dask needs dask.distributed: {exc}") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach Dask scheduler {address}: {exc}") from None
    try:
        n = max(1, sum(client.nthreads().values()))  # type: ignore[no-untyped-call]
        yield from _pipeline(lambda f, b: client.submit(f, b, pure=False), fn, batches, 2 * n)
    finally:
        client.close()  # type: ignore[no-untyped-call]
