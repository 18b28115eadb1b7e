"""Archive integrity: the file reader, stateless checks, the signed ledger (seal/audit) and recovery.

See docs/archive.md for rule ids, canonical forms, the ledger format and thresholds.
"""
