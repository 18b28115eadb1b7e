"""Fuzz target ``tcp``: TCP reassembly of the monitor (:class:`radguard.monitor.tcp.Reassembler`).

Input: bytes read by atheris' ``FuzzedDataProvider``: an initial sequence number (anywhere in the 2**32
space, so streams wrap), a bound on out-of-order bytes, a byte stream, and a list of segments cut from it
(any offset, any length, so retransmissions, overlaps and reordering), optionally with acknowledgements
from the other side for bytes the capture never showed. The SYN comes first.

Crash: the reassembler raises; bytes are delivered at a stream position where the stream holds others
(``on_data`` and ``on_gap`` must lay the stream out exactly, RFC 9293 sequence space); the stream comes
out longer than sent; a gap is reported or a byte lost although every byte was captured, nothing was
acknowledged unseen, and the out-of-order bound could not be reached.
"""

from __future__ import annotations

import atheris

import common

with atheris.instrument_imports(include=["radguard"]):
    from radguard.monitor.decode import Segment, TCPFlag
    from radguard.monitor.tcp import Reassembler

_SYN, _ACK, _PSH = int(TCPFlag.SYN), int(TCPFlag.ACK), int(TCPFlag.PSH)


def test_one(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    isn = fdp.ConsumeIntInRange(0, 2**32 - 1)
    max_pending = fdp.PickValueInList([64, 1000, 1 << 22])
    stream = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 2048))
    at = 0  # stream position of the next byte delivered (a gap moves it on)
    gaps = 0

    def on_data(from_client: bool, chunk: bytes) -> None:
        nonlocal at
        assert from_client
        assert chunk == stream[at:at + len(chunk)], f"bytes delivered at stream position {at} are not the stream's"
        at += len(chunk)

    def on_gap(from_client: bool, missing: int) -> None:
        nonlocal at, gaps
        assert from_client and missing > 0
        at += missing
        gaps += 1

    r = Reassembler(on_data, on_gap, max_pending=max_pending)
    r.add(True, Segment(0.0, "10.0.0.1", 40000, "10.0.0.2", 104, isn, 0, _SYN, b""))
    covered = bytearray(len(stream))
    blind_acks = False
    while fdp.remaining_bytes() and stream:
        start = fdp.ConsumeIntInRange(0, len(stream) - 1)
        end = fdp.ConsumeIntInRange(start + 1, len(stream))
        if fdp.ConsumeIntInRange(0, 15) == 0:  # the server acknowledges up to ``end``
            blind_acks = True
            r.add(False, Segment(0.0, "10.0.0.2", 104, "10.0.0.1", 40000, 7, (isn + 1 + end) % 2**32, _ACK, b""))
        covered[start:end] = b"\1" * (end - start)
        r.add(True, Segment(0.0, "10.0.0.1", 40000, "10.0.0.2", 104, (isn + 1 + start) % 2**32, 0, _ACK | _PSH,
                            stream[start:end]))
    r.flush()
    assert at <= len(stream), "the reassembled stream is longer than the one sent"
    if all(covered) and not blind_acks and max_pending == 1 << 22:  # a bound this input cannot reach
        assert gaps == 0 and at == len(stream), "every byte captured, yet a gap or a loss"


if __name__ == "__main__":
    common.main(test_one)
