"""What every fuzz target shares: the crash definition and the atheris entry point.

A target is ``fuzz/fuzz_<name>.py``: it imports the radguard code under test inside
``atheris.instrument_imports()`` (so that libFuzzer sees Python line/branch coverage), defines
``test_one(data: bytes)`` and calls :func:`main`. Run it through ``fuzz/run.py`` (seeds, corpus,
limits and the report) rather than by hand.

What counts as a crash (docs/fuzzing.md):

- any exception that escapes ``test_one``: each target catches only the documented error types of
  the API it drives (``radguard.errors.ProtocolError``, ``CaptureError``, ``ConfigError``, ...), so
  anything else (``struct.error``, ``IndexError``, ``UnicodeDecodeError``, a failed differential
  ``assert``) is a bug;
- a hang: one input running longer than libFuzzer's ``-timeout`` (seconds);
- a memory blow-up: the process above ``-rss_limit_mb``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import atheris

#: transfer syntaxes a bare data set is read in, by mode byte 1.. (fuzz_part10, fuzz_dataset): implicit and
#: explicit VR little endian, explicit big endian, deflated, JPEG baseline (encapsulated pixel data)
TRANSFER_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
                     "1.2.840.10008.1.2.4.50")
#: presentation contexts of the A-ASSOCIATE-RQ fuzz_ul's REQUESTOR sends: verification, CT image storage
REQUEST_CONTEXTS = ((1, "1.2.840.10008.1.1"), (3, "1.2.840.10008.5.1.4.1.1.2"))

# the PHI keyed hash must not create a site secret in the user's data directory during a fuzz run
os.environ.setdefault("RADGUARD_PHI_SECRET", "radguard fuzzing: a test secret, not a site secret")


def main(test_one: Callable[[bytes], None]) -> None:
    """Hand ``test_one`` to libFuzzer with the command line's corpus directories and ``-flags``."""
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()
