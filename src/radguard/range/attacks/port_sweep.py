"""DICOM port sweep: connect to the usual DICOM/PACS ports and the range's own (T1046, ICS T0846)."""

from __future__ import annotations

import socket

from radguard.range.attacks.kit import Attack, Context, Outcome


def run(ctx: Context) -> Outcome:
    from radguard.assess.targets import DEFAULT_PORTS
    from radguard.range.lab import SWEEP_PORTS

    ports = sorted({*ctx.st.ports(), *DEFAULT_PORTS, *SWEEP_PORTS})
    found = 0
    for port in ports:
        with socket.socket() as s:
            s.settimeout(0.3)
            found += s.connect_ex((ctx.st.host, port)) == 0
    return Outcome(success=found > 0, impact={"open_ports_found": found, "ports_probed": len(ports)},
                   note=f"{found} of {len(ports)} ports answered")


ATTACK = Attack(
    name="port-sweep", title="DICOM port sweep", attack_ids=("T1046", "T0846"),
    precondition="network access to the department's subnet",
    objective="open DICOM/web ports found", layers=("monitor",), run=run)
