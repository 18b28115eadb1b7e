"""Versioned data files of the scanner (see README.md in this directory)."""
