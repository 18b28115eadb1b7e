"""Test support: real peers (DCMTK, Orthanc, PostgreSQL, TLS and hostile peers), the threat corpus,
and wire traffic built from the shared codecs. Only tests and benchmarks import this package."""
