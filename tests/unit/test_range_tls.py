"""The range's TLS layer: its PKI verifies with OpenSSL, keys are private, the sniffer keeps the segment's port."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

from radguard.range.attacks.cleartext_sniff import tcp_payload
from radguard.range.pki import load_pki, make_pki


def test_pki_chains_to_its_ca_with_private_keys(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "tls")
    assert load_pki(tmp_path / "tls") == pki
    out = subprocess.run(["openssl", "verify", "-CAfile", str(pki.ca), "-purpose", "sslserver", str(pki.server_cert)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    out = subprocess.run(["openssl", "verify", "-CAfile", str(pki.ca), "-purpose", "sslclient", str(pki.client_cert)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(pki.server_cert)], capture_output=True,
                          text=True, check=True).stdout
    assert "IP Address:127.0.0.1" in text
    for key in (pki.server_key, pki.client_key):
        assert os.stat(key).st_mode & 0o777 == 0o600


def frame(src: int, dst: int, payload: bytes, proto: int = 6) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", src, dst, 1, 0, 5 << 4, 0x18, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, proto, 0, bytes([127, 0, 0, 1]),
                     bytes([127, 0, 0, 1])) + tcp
    return b"\0" * 12 + b"\x08\x00" + ip + b"\0\0"  # Ethernet header, IPv4, trailing padding


def test_sniffer_keeps_the_payload_of_the_segment_port_only() -> None:
    assert tcp_payload(frame(40000, 11112, b"DOE^JANE"), 11112) == b"DOE^JANE"
    assert tcp_payload(frame(11112, 40000, b"\x17\x03\x03"), 11112) == b"\x17\x03\x03"  # padding cut by IP length
    assert tcp_payload(frame(40000, 4242, b"DOE^JANE"), 11112) is None  # the gateway-to-PACS leg
    assert tcp_payload(frame(40000, 11112, b"x", proto=17), 11112) is None  # not TCP
    assert tcp_payload(b"\0" * 12 + b"\x86\xdd" + b"\0" * 60, 11112) is None  # IPv6
    assert tcp_payload(b"short", 11112) is None
