"""Honeytoken studies: synthetic patients and studies no legitimate user ever asks for.

A honeytoken study looks like any other study (a plausible name, a patient ID, a date, a CT or MR
series) but its patient is generated, never a real person, and every UID lies under the site's
honeytoken root (:func:`uid_root`): ``2.25.`` followed by a number derived from the site secret
(:func:`radguard.phi.site_secret`), so the root is stable for a site, differs between sites and
cannot be guessed from radguard's source. A query, retrieve or transfer that names one of these UIDs
is reconnaissance or exfiltration: the decoy, the gateway and the monitor raise a critical alert
(45 CFR 164.308(a)(1)(ii)(D), 164.312(b); NIST CSF DE.CM-01).

``radguard decoy`` serves :func:`generate` studies from memory; ``radguard decoy plant`` stores them in
the real PACS by C-STORE (:func:`plant`, PS3.4 Annex B) and records their UIDs
(:mod:`radguard.store.honeytokens`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from radguard.dicom import uids

#: arc radguard puts below the UUID-derived root of a site's honeytokens (PS3.5 §B.2, §9)
HONEYTOKEN_ARC = "2.25"
#: given and family names honeytoken patients are drawn from (common names: no real patient is meant)
GIVEN = ("ANNA", "JAMES", "MARIA", "DAVID", "LINDA", "PETER", "SARAH", "THOMAS", "ELENA", "MARK", "JULIA",
         "PAUL", "NORA", "SIMON", "CLARA", "HENRY", "IRENE", "VICTOR", "ROSA", "FELIX")
FAMILY = ("MILLER", "BAKER", "HARTMANN", "NOVAK", "FISCHER", "MORENO", "LARSEN", "KOWALSKI", "BERGER",
          "DUBOIS", "WALSH", "ROSSI", "JENSEN", "MEYER", "COSTA", "WEBER", "KELLER", "PETERS", "BRANDT", "LANG")
#: (modality, SOP class, study description) of the synthetic studies
KINDS = (("CT", uids.CT_IMAGE_STORAGE, "CT CHEST W CONTRAST"), ("MR", uids.MR_IMAGE_STORAGE, "MR BRAIN WO"),
         ("CT", uids.CT_IMAGE_STORAGE, "CT ABDOMEN PELVIS"), ("MR", uids.MR_IMAGE_STORAGE, "MR KNEE LEFT"))
#: images per synthetic series
IMAGES = 2
#: rows and columns of a synthetic image (small: the pixels are noise)
MATRIX = 32


@dataclass(frozen=True)
class HoneyStudy:
    """One synthetic study: its patient (generated), its one series and its instances (UIDs only)."""

    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    study_uid: str
    study_date: str
    study_time: str
    accession: str
    modality: str
    sop_class: str
    description: str
    series_uid: str
    instances: tuple[str, ...] = field(default=())

    def uids(self) -> dict[str, dict[str, Any]]:
        """Every UID of the study, with what it names (for the store: level and study, never the patient)."""
        out: dict[str, dict[str, Any]] = {self.study_uid: {"level": "STUDY", "study": self.study_uid},
                                          self.series_uid: {"level": "SERIES", "study": self.study_uid}}
        out.update({uid: {"level": "IMAGE", "study": self.study_uid} for uid in self.instances})
        return out


def uid_root(secret: bytes | None = None) -> str:
    """The site's honeytoken UID root: ``2.25.<decimal of 64 bits of HMAC-SHA-256(site secret)>``."""
    if secret is None:
        from radguard.phi import site_secret

        secret = site_secret()
    digest = hashlib.blake2b(b"radguard-honeytoken-root", key=secret[:64], digest_size=8).digest()
    return f"{HONEYTOKEN_ARC}.{int.from_bytes(digest, 'big')}"


def _uid(root: str, rng: random.Random) -> str:
    """A UID under ``root`` (at most 64 characters, no leading zero in the last component, PS3.5 §9.1)."""
    room = 64 - len(root) - 1
    digits = min(room, 30)
    return f"{root}.{rng.randint(10 ** (digits - 1), 10 ** digits - 1)}"


def generate(count: int, *, root: str | None = None, seed: int | bytes | None = None) -> list[HoneyStudy]:
    """``count`` synthetic studies; the same ``seed`` and ``root`` give the same studies (the decoy serves
    the same studies across restarts), ``seed=None`` fresh ones (a new plant)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    base = root or uid_root()
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    today = date.today()
    out = []
    for _ in range(count):
        modality, sop_class, description = rng.choice(KINDS)
        born = today - timedelta(days=rng.randint(20 * 365, 85 * 365))
        seen = today - timedelta(days=rng.randint(1, 400))
        out.append(HoneyStudy(
            patient_name=f"{rng.choice(FAMILY)}^{rng.choice(GIVEN)}", patient_id=str(rng.randint(1000000, 9999999)),
            birth_date=born.strftime("%Y%m%d"), sex=rng.choice("FM"), study_uid=_uid(base, rng),
            study_date=seen.strftime("%Y%m%d"), study_time=f"{rng.randint(7, 18):02d}{rng.randint(0, 59):02d}00",
            accession=f"A{rng.randint(10000000, 99999999)}", modality=modality, sop_class=sop_class,
            description=description, series_uid=_uid(base, rng),
            instances=tuple(_uid(base, rng) for _ in range(IMAGES))))
    return out


def all_uids(studies: list[HoneyStudy]) -> dict[str, dict[str, Any]]:
    """Every UID of ``studies`` with what it names."""
    out: dict[str, dict[str, Any]] = {}
    for s in studies:
        out.update(s.uids())
    return out


def patient_keys(study: HoneyStudy) -> dict[str, Any]:
    """Patient and study attributes of ``study`` (keyword -> value), as a C-FIND answer or a header carries them."""
    return {"PatientName": study.patient_name, "PatientID": study.patient_id, "PatientBirthDate": study.birth_date,
            "PatientSex": study.sex, "StudyInstanceUID": study.study_uid, "StudyDate": study.study_date,
            "StudyTime": study.study_time, "AccessionNumber": study.accession, "StudyID": study.accession[-6:],
            "StudyDescription": study.description, "ModalitiesInStudy": study.modality,
            "ReferringPhysicianName": ""}


def instances(study: HoneyStudy) -> Iterator[dict[str, Any]]:
    """The study's images (keyword -> value, for :func:`radguard.assess.probes.dicom_services.encode_dataset`):
    the generated patient, noise pixels."""
    import numpy as np

    rng = np.random.default_rng(int(study.series_uid.rsplit(".", 1)[1]) % (2 ** 32))
    keys = patient_keys(study)
    del keys["ModalitiesInStudy"]
    for number, sop in enumerate(study.instances, start=1):
        yield {"SOPClassUID": study.sop_class, "SOPInstanceUID": sop, "SeriesInstanceUID": study.series_uid,
               "Modality": study.modality, "SeriesNumber": 1, "InstanceNumber": number,
               "SeriesDate": study.study_date, "ContentDate": study.study_date, **keys,
               "Rows": MATRIX, "Columns": MATRIX, "SamplesPerPixel": 1, "PhotometricInterpretation": "MONOCHROME2",
               "BitsAllocated": 16, "BitsStored": 12, "HighBit": 11, "PixelRepresentation": 0,
               "PixelData": rng.integers(0, 4096, size=(MATRIX, MATRIX), dtype=np.uint16).tobytes()}
