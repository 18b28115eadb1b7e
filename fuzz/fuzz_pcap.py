"""Fuzz target ``pcap``: what ``radguard pcap`` does with a capture file, short of the store.

Input: a whole capture file (libpcap, microsecond or nanosecond, either byte order; or pcapng).
It is read by :func:`radguard.monitor.capture.read_frames` and every frame goes through the
:class:`~radguard.monitor.analyzer.Analyzer`: link/IP/TCP decoding, TCP reassembly, the DICOM
conversation (the upper layer as OBSERVER, mid-stream pick-up, resynchronisation after gaps),
the TLS and PHI readers and the malicious-object inspector on stored data sets.

Crash: anything raised but :class:`~radguard.monitor.capture.CaptureError` (the documented error of a
damaged capture: the frames before the damage are analysed, as ``analyze`` does); a record that the
JSON-lines sink cannot write.
"""

from __future__ import annotations

import io
import json
from typing import Any

import atheris

import common

with atheris.instrument_imports(include=["radguard"]):
    from radguard.monitor.analyzer import Analyzer
    from radguard.monitor.capture import CaptureError, read_frames
    from radguard.monitor.detections.malicious_object import inspector


def test_one(data: bytes) -> None:
    records: list[dict[str, Any]] = []
    analyzer = Analyzer(records.append, inspect=inspector)
    try:
        for frame in read_frames(io.BytesIO(data)):
            analyzer.feed_frame(frame)
    except CaptureError:
        pass
    analyzer.finish()
    for record in records:
        json.dumps(record, separators=(",", ":"), default=str)


if __name__ == "__main__":
    common.main(test_one)
