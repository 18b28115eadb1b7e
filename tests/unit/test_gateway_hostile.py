"""What a connection did before associating, told from its first bytes (radguard.gateway.hostile)."""

from __future__ import annotations

import struct

import pytest

from radguard.dicom.pdu import PDV, PDataTF, ReleaseRequest
from radguard.gateway.hostile import Hostility, classify

GUARD = 16384 + 1024


@pytest.mark.parametrize("head,kind", [
    (b"garbage", Hostility.NOT_DICOM),
    (b"GET / HTTP/1.1\r\n", Hostility.NOT_DICOM),
    (struct.pack(">BBL", 1, 0, 0xFFFFFFF0), Hostility.OVERSIZED_PDU),
    (PDataTF([PDV(1, True, True, bytes(20))]).encode(), Hostility.PDATA_BEFORE_ASSOCIATION),
    (ReleaseRequest().encode(), Hostility.MALFORMED_PDU),
    (b"\x01\x00", Hostility.MALFORMED_PDU),
])
def test_classify(head: bytes, kind: Hostility) -> None:
    assert classify(head[:6], GUARD) is kind
