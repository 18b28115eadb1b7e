"""The scan engine: a non-blocking connect sweep with bounded concurrency, then probes of the open ports.

Concurrency model: at most ``concurrency`` connections in flight overall and at most
``per_host`` per host (gentle on a production PACS); every connect and every exchange has a
deadline (``timeout``); hosts are pulled lazily from the target list and results are yielded
host by host, so memory stays flat however many targets are scanned.

A host's ports are connected in batches of bare non-blocking sockets (``connect_ex``, one writer
callback per socket, one deadline timer per batch), driven by callbacks rather than a task per
port: a refused port (most of a sweep) costs a socket, one ``connect`` and one wake-up of the loop.
A port that accepts becomes a task that probes it on that same connection
(:class:`radguard.assess.openport.OpenPortProber`, imported when the first port answers) and holds
its permits until its probes are done.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from radguard.assess import identify
from radguard.assess.identify import PortState
from radguard.assess.results import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_READ,
    DEFAULT_PER_HOST,
    DEFAULT_TIMEOUT,
    HostResult,
    PortResult,
    ScanOptions,
    error_entry,
)

if TYPE_CHECKING:
    from radguard.assess.openport import OpenPortProber

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_MAX_READ", "DEFAULT_PER_HOST", "DEFAULT_TIMEOUT", "HostResult",
           "PortResult", "ScanOptions", "Scanner"]

class Scanner:
    """Runs :class:`ScanOptions` over hosts; use :meth:`run` (async iterator of :class:`HostResult`)."""

    def __init__(self, options: ScanOptions) -> None:
        self.options = options
        self._global = asyncio.Semaphore(max(1, options.concurrency))
        self._prober: OpenPortProber | None = None

    # ------------------------------------------------------------- driving
    async def run(self, hosts: Sequence[str]) -> AsyncIterator[HostResult]:
        """Scan ``hosts``; yield one :class:`HostResult` per host as hosts complete."""
        queue: asyncio.Queue[HostResult | None] = asyncio.Queue(maxsize=64)
        it = iter(hosts)
        workers_n = max(1, min(len(hosts), self.options.concurrency))

        async def worker() -> None:
            for host in it:
                try:
                    result = await self.scan_host(host)
                except Exception as exc:  # a bug must cost one host, never hang or end the scan
                    result = HostResult(host=host, ports=[], errors=[error_entry(
                        host, "host", "internal-error", f"{exc.__class__.__name__}: {exc}")])
                await queue.put(result)
            await queue.put(None)  # only reached on completion: cancellation means the consumer is gone

        tasks = [asyncio.create_task(worker()) for _ in range(workers_n)]
        done = 0
        try:
            while done < workers_n:
                item = await queue.get()
                if item is None:
                    done += 1
                    continue
                yield item
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def scan_host(self, host: str) -> HostResult:
        address = await self._resolve(host)
        if address is None:
            return HostResult(host=host, ports=[], errors=[error_entry(host, "resolve", "resolve-failed",
                                                                        "host name does not resolve")])
        ports = await _HostSweep(self, host, address).run()
        if any(p.state is PortState.OPEN for p in ports):
            from radguard.assess.openport import merge_host

            merge_host(ports)
        return HostResult(host=host, ports=ports)

    async def _resolve(self, host: str) -> str | None:
        try:  # an IP literal (every host of a range or CIDR): no resolver round trip through the thread pool
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), self.options.timeout
            )
        except (OSError, TimeoutError, UnicodeError):
            return None
        if not infos:
            return None
        ipv4 = [i for i in infos if i[0] == socket.AF_INET]  # like nmap: IPv4 unless only IPv6 exists
        return str((ipv4 or infos)[0][4][0])

    # ------------------------------------------------------------ per port
    async def _open_port(self, host: str, address: str, port: int, sock: socket.socket) -> PortResult:
        """Probe a port whose connect succeeded, on that connection (``sock``: from here on, ours to close).

        (The permit taken for the connect is held until the probes are done: a connection opened and then
        left idle while waiting for a permit blocks single-threaded SCPs such as DCMTK storescp for everyone.)
        """
        result = PortResult(host=host, port=port, state=PortState.OPEN)
        try:
            reader, writer = await identify.streams(sock)
        except OSError:
            result.state = PortState.FILTERED
            return result
        try:
            if self._prober is None:
                from radguard.assess.openport import OpenPortProber

                self._prober = OpenPortProber(self.options)
            await self._prober.probe(result, address, reader, writer)
        except Exception as exc:  # a bug must not take the whole scan down: record it for this target
            result.errors.append(error_entry(result.target, "probe", "internal-error",
                                             f"{exc.__class__.__name__}: {exc}"))
        return result


class _Batch:
    """Connects started together: one deadline timer for all of them."""

    __slots__ = ("fds", "left", "timer")

    def __init__(self) -> None:
        self.fds: list[int] = []
        self.left = 0
        self.timer: asyncio.TimerHandle | None = None


class _HostSweep:
    """One host's ports: at most ``per_host`` in flight (connecting or being probed), each holding a global
    permit; results in port order."""

    def __init__(self, scanner: Scanner, host: str, address: str) -> None:
        self.scanner = scanner
        self.host = host
        self.address = address
        self.family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.ports = list(scanner.options.ports)
        self.results: list[PortResult | None] = [None] * len(self.ports)
        self.free = max(1, min(scanner.options.per_host, len(self.ports)))
        self.slots = self.free
        self.loop = asyncio.get_running_loop()
        self.waiter: asyncio.Future[None] | None = None
        self.connecting: dict[int, tuple[int, socket.socket, _Batch]] = {}  # fd -> (port index, socket, batch)
        self.tasks: set[asyncio.Task[PortResult]] = set()

    async def run(self) -> list[PortResult]:
        permits = self.scanner._global
        n = len(self.ports)
        i = 0
        try:
            while True:
                if i < n and self.free > 0:
                    await permits.acquire()  # the first may wait; more only while free (no hold-and-wait)
                    k = 1
                    while k < min(self.free, n - i) and not permits.locked():
                        await permits.acquire()
                        k += 1
                    self._start(range(i, i + k))
                    i += k
                    continue
                if i >= n and self.free == self.slots:
                    break
                self.waiter = self.loop.create_future()
                await self.waiter
        finally:
            self._abandon()
        return [r for r in self.results if r is not None]

    # ------------------------------------------------------------ connects
    def _start(self, indices: range) -> None:
        self.free -= len(indices)
        batch = _Batch()
        for index in indices:
            sock: socket.socket | None = None
            try:
                sock = socket.socket(self.family, socket.SOCK_STREAM)
                sock.setblocking(False)
                err = sock.connect_ex((self.address, self.ports[index]))
                if err in identify.IN_PROGRESS and (now := identify.connect_outcome(sock)) is not None:
                    err = now  # settled already (loopback): no selector registration, no timer
            except OSError as exc:  # no socket to be had (EMFILE ...) or a connect that failed at once
                err = exc.errno or errno.EINVAL
            if sock is not None and err in identify.IN_PROGRESS:
                fd = sock.fileno()
                self.connecting[fd] = (index, sock, batch)
                self.loop.add_writer(fd, self._writable, fd)
                batch.fds.append(fd)
            else:
                self._settled(index, sock, err)
        if batch.fds:
            batch.left = len(batch.fds)
            batch.timer = self.loop.call_later(self.scanner.options.timeout, self._expired, batch)

    def _writable(self, fd: int) -> None:
        index, sock, batch = self.connecting.pop(fd)
        self.loop.remove_writer(fd)
        batch.left -= 1
        if batch.left == 0 and batch.timer is not None:
            batch.timer.cancel()
        try:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError as exc:
            err = exc.errno or errno.EINVAL
        self._settled(index, sock, err)

    def _expired(self, batch: _Batch) -> None:
        for fd in batch.fds:
            entry = self.connecting.get(fd)
            if entry is not None and entry[2] is batch:  # (a number freed by a settled socket may be reused)
                del self.connecting[fd]
                self.loop.remove_writer(fd)
                self._settled(entry[0], entry[1], errno.ETIMEDOUT)

    def _settled(self, index: int, sock: socket.socket | None, err: int) -> None:
        """A connect ended: refused → closed, no answer or another error → filtered, else probe the port."""
        port = self.ports[index]
        if err == 0 and sock is not None:
            task = self.loop.create_task(self.scanner._open_port(self.host, self.address, port, sock))
            self.tasks.add(task)
            task.add_done_callback(lambda t: self._probed(index, t))
            return
        if sock is not None:
            sock.close()
        state = PortState.CLOSED if err == errno.ECONNREFUSED else PortState.FILTERED
        self.results[index] = PortResult(host=self.host, port=port, state=state)
        self._release()

    def _probed(self, index: int, task: asyncio.Task[PortResult]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            self._release()
            return
        exc = task.exception()
        if exc is None:
            self.results[index] = task.result()
        else:  # not expected (_open_port records what goes wrong), but a port must never vanish from the result
            result = self.results[index] = PortResult(host=self.host, port=self.ports[index], state=PortState.OPEN)
            result.errors.append(error_entry(result.target, "probe", "internal-error",
                                             f"{exc.__class__.__name__}: {exc}"))
        self._release()

    def _release(self) -> None:
        self.scanner._global.release()
        self.free += 1
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _abandon(self) -> None:
        """On the way out (normally nothing is left; on cancellation: close what is in flight)."""
        for fd, (_index, sock, batch) in list(self.connecting.items()):
            self.loop.remove_writer(fd)
            if batch.timer is not None:
                batch.timer.cancel()
            sock.close()
            self.scanner._global.release()
        self.connecting.clear()
        for task in list(self.tasks):
            task.cancel()
