"""radguard: defense in depth for medical imaging (DICOM/PACS)."""

__version__ = "0.1.0"
