"""``make test`` / ``make demo`` never stop, start or reconfigure a service of the machine (issue 16, item 10).

A department server may run its own Orthanc, PostgreSQL or rsyslog: bootstrapping radguard must not be an
outage. The Makefile's ``system-deps`` only installs packages (apt kept from starting services by a
policy-rc.d that is removed only if the Makefile made it) and signals no process.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = re.compile(r"\b(service\s+\S+\s+(stop|restart|start|reload)|systemctl|invoke-rc\.d|pkill|killall|kill\s)")


@pytest.mark.skipif(not shutil.which("make"), reason="make not installed")
def test_system_deps_recipe_touches_no_service() -> None:
    recipe = subprocess.run(["make", "-n", "-s", "-C", str(ROOT), "system-deps"], capture_output=True, text=True,
                            check=True).stdout
    assert "apt-get install" in recipe  # the recipe is really there
    assert not FORBIDDEN.search(recipe), FORBIDDEN.search(recipe)


def test_a_policy_rc_d_of_the_machine_is_kept() -> None:
    makefile = (ROOT / "Makefile").read_text()
    # ours is written only when none exists, and only ours is removed
    assert "if [ ! -e /usr/sbin/policy-rc.d ]; then ours=1" in makefile
    assert "[ $$ours = 0 ] || rm -f /usr/sbin/policy-rc.d" in makefile
    guarded = "[ $$ours = 0 ] || rm -f /usr/sbin/policy-rc.d"
    assert makefile.count("rm -f /usr/sbin/policy-rc.d") == makefile.count(guarded)
