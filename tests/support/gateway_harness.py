"""Run a :class:`radguard.gateway.server.Gateway` in a background thread with its own event loop (test support)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from radguard.audittrail.trail import AuditTrail
from radguard.gateway.addons.inspection import Checker
from radguard.gateway.config import GatewayConfig
from radguard.gateway.server import Gateway

T = TypeVar("T")


class GatewayThread:
    """Start with :meth:`start` (returns once listening), stop with :meth:`stop`; a context manager."""

    def __init__(self, config: GatewayConfig, *, trail: AuditTrail | None = None,
                 checker: Checker | None = None) -> None:
        self.config = config
        self._trail, self._checker = trail, checker
        self.loop = asyncio.new_event_loop()
        self.gateway: Gateway | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="radguard-gateway", daemon=True)
        self._error: BaseException | None = None

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the gateway's loop and return its result (thread-safe)."""
        async def _wrap() -> T:
            return fn()
        return asyncio.run_coroutine_threadsafe(_wrap(), self.loop).result(10)

    def start(self) -> GatewayThread:
        self._thread.start()

        async def _start() -> Gateway:
            gw = Gateway(self.config, trail=self._trail, checker=self._checker)
            await gw.start()
            return gw

        self.gateway = asyncio.run_coroutine_threadsafe(_start(), self.loop).result(30)
        return self

    @property
    def port(self) -> int:
        assert self.gateway is not None
        return self.gateway.addresses["listen"][1]

    @property
    def tls_port(self) -> int:
        assert self.gateway is not None
        return self.gateway.addresses["listen_tls"][1]

    def stats(self) -> dict[str, Any]:
        gw = self.gateway
        assert gw is not None
        return self.call(lambda: dict(gw.stats))

    def stop(self, grace: float = 2.0) -> None:
        if self.gateway is not None:
            asyncio.run_coroutine_threadsafe(self.gateway.stop(grace), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def __enter__(self) -> GatewayThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
