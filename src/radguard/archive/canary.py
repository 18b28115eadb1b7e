"""Decoy DICOM objects (``radguard canary plant``): synthetic, no real patient, sealed as canaries.

Nothing legitimate ever changes them, so any change, encryption or deletion of one is
``canary-touched`` (critical) in the next audit (45 CFR 164.308(a)(6)(ii), CSF DE.AE-02).
"""

from __future__ import annotations

import os
import secrets


def write_decoys(directory: str, count: int) -> list[str]:
    """Write ``count`` synthetic CT-like Part 10 files into ``directory``; return their paths."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    os.makedirs(directory, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    out: list[str] = []
    for n in range(count):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
        sop = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = SecondaryCaptureImageStorage
        ds.SOPInstanceUID = sop
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.Modality = "OT"
        ds.PatientName = f"DECOY^{secrets.token_hex(3).upper()}"
        ds.PatientID = secrets.token_hex(4).upper()
        ds.InstanceNumber = n + 1
        ds.Rows = ds.Columns = 64
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        rng = np.random.default_rng(secrets.randbits(32))
        ds.PixelData = rng.integers(0, 4096, size=(64, 64), dtype=np.uint16).tobytes()
        path = os.path.join(directory, f"IM{secrets.randbelow(90000) + 10000:05d}.dcm")
        while os.path.exists(path):
            path = os.path.join(directory, f"IM{secrets.randbelow(90000) + 10000:05d}.dcm")
        ds.save_as(path, enforce_file_format=True)
        out.append(path)
    return out
