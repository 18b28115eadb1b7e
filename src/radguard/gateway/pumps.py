"""The reading loops (pumps) of a relayed association and its protocol-callback read path.

One pump per side reads chunks and feeds them to that side's upper layer. While a pump is parked in its
read, the transport's callback serves a chunk right away (:meth:`Pumps._client_direct`,
:meth:`Pumps._upstream_direct`); what had to wait is finished by the pump (:class:`streams.Resume`), in order.
"""

from __future__ import annotations

import logging

from radguard.gateway import streams
from radguard.gateway.dispatch import Dispatch

log = logging.getLogger("radguard.gateway")


class Pumps(Dispatch):
    """Read both sides until the association ends."""

    def _direct(self, on: bool) -> None:
        """Let the transports' callbacks serve received chunks (protocol-callback read path) or stop."""
        for reader, take in ((self.c_reader, self._client_direct), (self.u_reader, self._upstream_direct)):
            if isinstance(reader, streams.ChunkReader):
                reader.direct = take if on else None

    async def _client_pump(self) -> None:
        """Serve what the client sends: chunks taken in the transport's callback (:meth:`_client_direct`)
        and finished here if they had to wait, and the chunks queued meanwhile."""
        while not self.closing:
            self._c_parked = True
            data = await self._read_active(self.c_reader)
            self._c_parked = False
            resume, self._c_resume = self._c_resume, None
            if resume is not None:
                await resume
                if self.closing:
                    return
            if not data:
                if self.closing:
                    return
                if resume is None or self.c_reader.at_eof() or self.c_reader.exception() is not None:
                    self.abort("client closed the connection")
                    return
                continue
            await self._client_chunk(data)

    async def _client_chunk(self, data: bytes) -> None:
        for ev in self.client.receive(data):
            await self._on_client(ev)
            if self.closing:
                return
        if self._u_buf and not self._u_hold:
            await self._write(self.u_writer)
        if self._identify is not None:  # the upstream has the data set: read its identifiers meanwhile
            self._note_identifiers(self._identify)
            self._identify = None

    def _client_direct(self, data: bytes) -> bool:
        """A client chunk in the transport's callback: served right here while the client pump is idle."""
        if not self._c_parked or self._c_resume is not None or self.closing or self.gw.negotiating:
            return False
        self._last_activity = self._loop.time()
        resume = self._drive(self._client_chunk(data))
        if resume is not None:
            self._c_resume = resume
            self.c_reader.kick()  # type: ignore[attr-defined]
        return True

    async def _upstream_pump(self) -> None:
        """Serve what the upstream sends, like :meth:`_client_pump`."""
        assert self.u_reader is not None
        while not self.closing:
            self._u_parked = True
            data = await self._read_active(self.u_reader)
            self._u_parked = False
            resume, self._u_resume = self._u_resume, None
            if resume is not None:
                await resume
                if self.closing:
                    return
            if not data:
                if self.closing:
                    return
                if resume is None or self.u_reader.at_eof() or self.u_reader.exception() is not None:
                    how = f"{self.info.target_ae} closed the connection"
                    log.warning("association %s: %s", self.info.label, how)
                    self.abort(how)
                    return
                continue
            await self._upstream_chunk(data)

    async def _upstream_chunk(self, data: bytes) -> None:
        for ev in self.up.receive(data):
            await self._on_upstream(ev)
            if self.closing:
                return
        if self._c_buf:
            await self._write(self.c_writer)

    def _upstream_direct(self, data: bytes) -> bool:
        """An upstream chunk in the transport's callback, like :meth:`_client_direct`."""
        if not self._u_parked or self._u_resume is not None or self.closing or self.gw.negotiating:
            return False
        self._last_activity = self._loop.time()
        resume = self._drive(self._upstream_chunk(data))
        if resume is not None:
            self._u_resume = resume
            assert self.u_reader is not None
            self.u_reader.kick()  # type: ignore[attr-defined]
        return True
