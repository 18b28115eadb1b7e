"""End-to-end tests: the installed CLI as a PACS administrator runs it, PHI leaks, hostile input."""
