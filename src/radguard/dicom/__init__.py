"""DICOM protocol layer, sans-io: PDUs (PS3.8), DIMSE command sets (PS3.7), the association
state machine, and closed vocabularies. No sockets, no policy."""
