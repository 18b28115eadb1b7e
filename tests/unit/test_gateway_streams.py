"""The relay's zero-copy reader and protocol-callback read path (radguard.gateway.streams)."""

from __future__ import annotations

import asyncio

import pytest

from radguard.gateway.streams import ChunkReader, Resume


def test_direct_takes_chunks_only_while_nothing_is_queued() -> None:
    async def main() -> None:
        reader = ChunkReader()
        taken: list[bytes] = []
        accept = True

        def direct(chunk: bytes) -> bool:
            if accept:
                taken.append(chunk)
            return accept

        reader.direct = direct
        reader.feed_data(b"one")
        accept = False
        reader.feed_data(b"two")  # declined: queued
        accept = True
        reader.feed_data(b"three")  # "two" is queued: kept behind it, in order
        assert taken == [b"one"]
        assert await reader.read() == b"two"
        assert await reader.read() == b"three"

    asyncio.run(main())


def test_kick_wakes_a_waiting_read_without_data() -> None:
    async def main() -> None:
        reader = ChunkReader()
        waiting = asyncio.ensure_future(reader.read())
        await asyncio.sleep(0)
        reader.kick()
        assert await waiting == b""
        assert not reader.at_eof()
        reader.feed_data(b"x")
        assert await reader.read() == b"x"
        reader.feed_eof()
        assert await reader.read() == b""
        assert reader.at_eof()

    asyncio.run(main())


def test_resume_finishes_a_coroutine_started_outside_a_task() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()
        steps: list[str] = []

        async def work() -> None:
            steps.append("start")
            steps.append(f"got {await fut}")
            await asyncio.sleep(0)
            steps.append("end")

        coro = work()
        resume = Resume(coro, coro.send(None))  # ran to its first wait, as in a transport callback
        assert steps == ["start"]
        loop.call_soon(fut.set_result, 7)
        await resume
        assert steps == ["start", "got 7", "end"]

    asyncio.run(main())


def test_resume_propagates_errors() -> None:
    async def main() -> None:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def work() -> None:
            await fut
            raise ValueError("boom")

        coro = work()
        resume = Resume(coro, coro.send(None))
        fut.set_result(1)
        with pytest.raises(ValueError, match="boom"):
            await resume

    asyncio.run(main())
