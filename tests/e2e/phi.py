"""Distinctive fake patient data and the leak check used by the PHI tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from pydicom import dcmread
from pydicom.uid import generate_uid

from radguard.range.samples import bundled

NAME = "Zyxwv^Qwerty"
PATIENT_ID = "PID-7788-UNIQUE"
BIRTH_DATE = "19010203"
TAMPERED_BIRTH_DATE = "19020304"
OTHER_NAME = "Mnbvc^Lkjhg"  # a second patient
#: the strings that must never appear in any output radguard produces
NEEDLES = (NAME, "Zyxwv", "Qwerty", PATIENT_ID, "7788-UNIQUE", BIRTH_DATE, TAMPERED_BIRTH_DATE, "Mnbvc", "Lkjhg",
           "1901-02-03")


def make_phi_files(folder: Path, sources: Iterable[str] = ("CT_small.dcm", "MR_small.dcm")) -> list[Path]:
    """Bundled files relabelled with the fake patient (new UIDs, one study per source)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, name in enumerate(sources):
        ds = dcmread(bundled(name))
        ds.PatientName = NAME if i % 2 == 0 else OTHER_NAME
        ds.PatientID = PATIENT_ID
        ds.PatientBirthDate = BIRTH_DATE
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = folder / f"IM{i:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        out.append(path)
    return out


def leaks(text: str | bytes) -> list[str]:
    """The needles found in ``text`` (case-insensitive)."""
    low = (text.decode("utf-8", "replace") if isinstance(text, bytes) else text).lower()
    return [n for n in NEEDLES if n.lower() in low]


def sqlite_dump(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()
