"""Byte entropy and ransomware indicators (thresholds documented in docs/archive.md)."""

from __future__ import annotations

import math
import re

#: Shannon entropy (bits/byte) at or above which a block is treated as random (encrypted or compressed)
RANDOM_BITS = 7.5
#: entropy below which a block is clearly structured (DICOM headers, uncompressed pixels)
STRUCTURED_BITS = 6.5
#: size of the first block sampled (random 1 KiB scores about 7.8 bits/byte)
HEAD = 1024
#: size of the later blocks sampled
BLOCK = 4096

#: extensions appended by ransomware families (public IOC lists: CISA #StopRansomware advisories)
RANSOM_EXTENSIONS = frozenset(
    {
        ".locked", ".lock", ".encrypted", ".enc", ".crypt", ".crypted", ".crypto", ".cry", ".lockbit",
        ".ryuk", ".ryk", ".conti", ".wncry", ".wnry", ".wcry", ".cerber", ".locky", ".zepto", ".odin",
        ".akira", ".royal", ".blacksuit", ".hive", ".phobos", ".dharma", ".basta", ".clop", ".cl0p",
        ".medusa", ".rhysida", ".babuk", ".avos", ".avdn", ".play", ".blackcat", ".alphv", ".ransom",
        ".pay2key", ".mallox", ".8base", ".djvu", ".stop", ".lockfile", ".kraken", ".nefilim",
    }
)
_NOTE_NAME = re.compile(
    r"(decrypt|recover|restore|ransom|how[_ -]?to|read[_ -]?me|readme|instructions|unlock|!!!)", re.IGNORECASE
)
_NOTE_WORDS = (b"decrypt", b"bitcoin", b"ransom", b".onion", b"tor browser", b"your files", b"encrypted",
               b"private key", b"monero", b"btc")


def shannon(block: bytes | memoryview) -> float:
    """Shannon entropy of ``block`` in bits per byte (0..8)."""
    n = len(block)
    if n == 0:
        return 0.0
    import numpy as np

    counts = np.bincount(np.frombuffer(block, dtype=np.uint8), minlength=256)
    probs = counts[counts > 0] / n
    return float(-(probs * np.log2(probs)).sum())


def ransom_extension(name: str) -> str | None:
    """The ransomware extension ``name`` ends with, if any (``x.dcm.lockbit`` -> ``.lockbit``)."""
    lower = name.lower()
    for ext in RANSOM_EXTENSIONS:
        if lower.endswith(ext):
            return ext
    return None


def ransom_note_words(name: str, data: bytes | memoryview) -> list[str]:
    """Ransom-note words found in a small text file whose name looks like a note (empty if not a note)."""
    if len(data) > 256 * 1024 or not _NOTE_NAME.search(name):
        return []
    low = bytes(data[:65536]).lower()
    words = [w.decode() for w in _NOTE_WORDS if w in low]
    return words if len(words) >= 2 else []


def round_bits(bits: float) -> float:
    return math.floor(bits * 100) / 100
