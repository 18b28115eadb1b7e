"""archive/runner.run_ordered: order kept, and a pool started only when there is more than one batch."""

from __future__ import annotations

import os

from radguard.archive.runner import run_ordered


def _pid_and_sum(batch: list[int]) -> tuple[int, int]:
    return os.getpid(), sum(batch)


def test_one_batch_runs_in_this_process() -> None:
    """A pool's start-up (fork, pipes, a watchdog thread per worker) is pure overhead for one batch."""
    out = list(run_ordered(_pid_and_sum, iter([[1, 2, 3]]), workers=2))
    assert out == [(os.getpid(), 6)]
    assert list(run_ordered(_pid_and_sum, iter([]), workers=2)) == []


def test_several_batches_go_to_worker_processes_in_order() -> None:
    batches = ([i, i + 1] for i in range(0, 40, 2))  # a generator, as seal and audit pass
    out = list(run_ordered(_pid_and_sum, batches, workers=2))
    assert [s for _pid, s in out] == [2 * i + 1 for i in range(0, 40, 2)]
    assert os.getpid() not in {pid for pid, _s in out}


def test_one_worker_runs_everything_here() -> None:
    out = list(run_ordered(_pid_and_sum, [[1], [2], [3]], workers=1))
    assert out == [(os.getpid(), 1), (os.getpid(), 2), (os.getpid(), 3)]
