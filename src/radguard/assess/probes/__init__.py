"""One module per probe family (DICOM access, DICOM services, TLS, web)."""
