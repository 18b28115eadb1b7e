"""``python -m radguard.demo`` (``make demo``): the main job on an embedded default.

Starts a small simulated imaging department on loopback (see :mod:`radguard.range.demo`)
and runs radguard's defenses against it, printing what each one found or stopped.
"""

from __future__ import annotations

import sys

from radguard.range.demo import main

if __name__ == "__main__":
    sys.exit(main())
