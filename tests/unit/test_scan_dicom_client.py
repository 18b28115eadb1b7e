"""The scanner's DICOM client guards: the read cap and the deadline (a peer that floods or stays mute).

The access and service probes have their own files: tests/unit/test_probe_dicom_access.py and
tests/unit/test_probe_dicom_services.py."""

from __future__ import annotations

import asyncio

import pytest

from radguard.assess.dicom_client import DicomClient, PeerError
from radguard.assess.probes.dicom_access import build_request


def test_client_read_cap_and_deadline() -> None:
    async def go() -> tuple[str, str]:
        async def flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await r.read(65536)
            w.write(b"\x02\x00\x00\x00\xff\xf0" + bytes(65536))  # a 64 KiB A-ASSOCIATE-AC that never ends
            await w.drain()
            await asyncio.sleep(3)
            w.close()

        async def mute(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await asyncio.sleep(3)
            w.close()

        kinds = []
        for handler in (flood, mute):
            server = await asyncio.start_server(handler, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            async with server:
                r, w = await asyncio.open_connection("127.0.0.1", port)
                client = DicomClient(r, w, timeout=0.3, max_read=4096)
                with pytest.raises(PeerError) as err:
                    await client.associate(build_request("A", "B"))
                kinds.append(err.value.kind)
                await client.close()
        return kinds[0], kinds[1]

    assert asyncio.run(go()) == ("read-cap", "timeout")
