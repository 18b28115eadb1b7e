"""Active content in a C-STORE: an Encapsulated PDF whose OpenAction runs JavaScript (T1204.002)."""

from __future__ import annotations

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from radguard.range.attacks.kit import Attack, Context, Outcome, stored_outcome

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (app.alert('x')) >> >>"
       b"\nendobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"


def run(ctx: Context) -> Outcome:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(PDF_STORAGE)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = PDF_STORAGE
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "RANGE^DOCUMENT", "RANGE0001", "DOC"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = PDF + (b"\x00" if len(PDF) % 2 else b"")
    ctx.store_dataset("CT01", ds, "report.dcm")
    return stored_outcome(ctx.pacs_has(str(ds.SOPInstanceUID)), yes="PDF with JavaScript stored", no="not stored")


ATTACK = Attack(
    name="active-content-store", title="Active content (PDF JavaScript) by C-STORE", attack_ids=("T1204.002",),
    precondition="a modality's AE title (CT01)", objective="the active document stored in the PACS",
    layers=("gateway",), run=run)
