"""Test support: real peers (DCMTK, Orthanc, PostgreSQL, TLS and hostile peers), the threat corpus,
wire traffic built from the shared codecs, and the gateway harness (a gateway in a thread, its addons'
fixtures). Only tests and benchmarks import this package."""
