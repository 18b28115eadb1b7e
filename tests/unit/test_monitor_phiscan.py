"""The monitor's data set head reading (radguard.monitor.phiscan): the compiled shortcut of the head walk
gives exactly the lenient walk's result, on real files in both VR encodings, cut anywhere, and damaged."""

from __future__ import annotations

import random

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from radguard.dicom import dataset
from radguard.monitor.phiscan import HEAD_GROUP_LIMIT, PATIENT_GROUP, _walk, examine

pytestmark = pytest.mark.skipif(dataset.speedups is None, reason="radguard.dicom._speedups not built")


def _encode(name: str, implicit: bool) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, dcmread(get_testdata_file(name)))
    return fp.getvalue()


def _heads(data: bytes, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    cuts = [data[:n] for n in (0, 7, 8, 100, 700, 1024, 1025, 4096, 16 * 1024, len(data))]
    damaged = []
    for _ in range(40):
        buf = bytearray(data[:rnd.choice((900, 3000, 20000))])
        for _ in range(rnd.randint(1, 3)):
            if buf:
                buf[rnd.randrange(len(buf))] = rnd.randrange(256)
        damaged.append(bytes(buf))
    return cuts + damaged


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "waveform_ecg.dcm"])
@pytest.mark.parametrize("implicit", [True, False])
def test_compiled_head_walk_is_the_lenient_walk(name: str, implicit: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _encode(name, implicit)
    lenient = dataset.walk
    calls: list[int] = []
    monkeypatch.setattr(dataset, "walk", lambda *a, **k: calls.append(1) or lenient(*a, **k))
    for head in _heads(data, sum(map(ord, name)) + implicit):
        for limit in (PATIENT_GROUP, HEAD_GROUP_LIMIT, 0xFFFF):
            before = dataset.parse_count()
            got = _walk(head, implicit, limit)
            assert dataset.parse_count() == before + 1  # one parse counted, whichever way it was read
            assert got == lenient(head, implicit=implicit, stop_after_group=limit)
        saved, dataset.speedups = dataset.speedups, None
        try:
            slow = examine(head, implicit, True, query=False), examine(head, implicit, True)
        finally:
            dataset.speedups = saved
        assert (examine(head, implicit, True, query=False), examine(head, implicit, True)) == slow
    calls.clear()
    _walk(data, implicit, PATIENT_GROUP)  # the usual case: the compiled walk alone
    assert not calls
