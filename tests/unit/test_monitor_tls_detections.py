"""TLS handshake facts (real OpenSSL handshakes through memory BIOs) and the detections on records."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from radguard.catalog import is_known
from radguard.monitor import detections, tls
from radguard.monitor.baseline import learn


def _cert(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pacs.example.test"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Radiology")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    kp, cp = tmp_path / "k.pem", tmp_path / "c.pem"
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return kp, cp


def _handshake(tmp_path: Path, version: ssl.TLSVersion) -> tuple[bytes, bytes]:
    """(client bytes, server bytes) of the first flight of a real handshake."""
    key, cert = _cert(tmp_path)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    sctx.maximum_version = version
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cin, cout, sin, sout = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = cctx.wrap_bio(cin, cout, server_hostname="pacs.example.test")
    server = sctx.wrap_bio(sin, sout, server_side=True)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    hello = cout.read()
    sin.write(hello)
    with pytest.raises(ssl.SSLWantReadError):
        server.do_handshake()
    return hello, sout.read()


def test_tls12_shows_the_certificate(tmp_path: Path) -> None:
    client, server = _handshake(tmp_path, ssl.TLSVersion.TLSv1_2)
    assert tls.looks_like_tls(client)
    info = tls.inspect(client, server)
    assert info["version"] == "TLSv1.2"
    assert info["server_name"] == "pacs.example.test"
    assert info["certificate_subject"] == "O=Radiology,CN=pacs.example.test"
    assert "TLSv1.3" in info["offered_versions"]


def test_tls13_hides_the_certificate(tmp_path: Path) -> None:
    client, server = _handshake(tmp_path, ssl.TLSVersion.TLSv1_3)
    info = tls.inspect(client, server)
    assert info["version"] == "TLSv1.3" and info["certificate_subject"] is None
    assert tls.inspect(b"\x16\x03\x01\x00\x05\x01\x00", b"")["version"] is None  # truncated: no crash


def _assoc(client: str, port: int, ts: str, **kw: Any) -> dict[str, Any]:
    return {"kind": "association", "client": client, "server": "10.0.0.2", "server_port": port, "ts": ts,
            "result": "accepted", "calling_ae": "CT01", "called_ae": "PACS", **kw}


def _ts(second: float) -> str:
    return datetime.datetime.fromtimestamp(1700000000 + second, datetime.UTC).isoformat().replace("+00:00", "Z")


def test_every_rule_cites_known_controls() -> None:
    for rule_id in detections.MODULES:
        rule = detections.load(rule_id).RULE
        assert rule.id == rule_id and rule.controls and rule.mitre and rule.remediation
        assert all(is_known(c) for c in rule.controls), rule.controls


def test_brute_force_thresholds() -> None:
    records = [_assoc("10.0.0.9", 104, _ts(i), result="rejected", calling_ae=f"G{i}",
                      reject={"reason": "calling-ae-not-recognized"}) for i in range(5)]
    (f,) = detections.run(records, ["ae-brute-force"])
    assert f.target == "10.0.0.2:104" and f.evidence["rejected"] == 5
    assert f.evidence["reasons"] == {"calling-ae-not-recognized": 5}
    assert detections.run(records, ["ae-brute-force"], {"ae-brute-force": {"min_rejections": 6}}) == []
    spread = [{**r, "ts": _ts(i * 200)} for i, r in enumerate(records)]  # 5 guesses over 800 s
    assert detections.run(spread, ["ae-brute-force"]) == []


def test_sweep_flood_and_harvest() -> None:
    sweep = [{"kind": "connection", "client": "10.0.0.66", "server": f"10.0.0.{i}", "server_port": 104,
              "ts": _ts(i), "state": "refused", "protocol": "none"} for i in range(10)]
    (f,) = detections.run(sweep, ["dicom-sweep"])
    assert (f.target, f.evidence["endpoints"], f.evidence["hosts"]) == ("10.0.0.66", 10, 10)
    flood = [_assoc("10.0.0.5", 104, _ts(i * 0.1)) for i in range(100)]
    assert [x.rule for x in detections.run(flood, ["association-flood"])] == ["association-flood"]
    assert detections.run(flood[:99], ["association-flood"]) == []
    find = {"kind": "dimse", "command": "C-FIND", "client": "10.0.0.5", "server": "10.0.0.2", "server_port": 104,
            "calling_ae": "WS01", "matches": 3, "query": {"level": "STUDY", "broad": False, "wildcard_keys": []}}
    assert detections.run([find], ["query-harvesting"]) == []
    big = {**find, "matches": 800}
    assert detections.run([big], ["query-harvesting"])[0].evidence["matches"] == 800


def test_baseline_detections() -> None:
    normal = [_assoc("10.0.0.5", 104, _ts(0), calling_ae="WS01"),
              {"kind": "dimse", "command": "C-MOVE", "calling_ae": "WS01", "client": "10.0.0.5", "server": "10.0.0.2",
               "server_port": 104, "move_destination": "WS01", "sub_operations": {"completed": 50}}]
    baseline = learn(normal)
    assert baseline["peers"] == {"WS01": ["10.0.0.5"]} and baseline["move_destinations"] == ["WS01"]
    today = [_assoc("10.0.0.99", 104, _ts(5), calling_ae="WS01"),
             {**normal[1], "move_destination": "EVIL", "sub_operations": {"completed": 400}}]
    found = detections.run(today, "all", context={"baseline": baseline})
    assert sorted(f.rule for f in found) == ["bulk-retrieve", "unknown-peer"]
    bulk = next(f for f in found if f.rule == "bulk-retrieve")
    assert bulk.evidence["new_destinations"] == ["EVIL"] and bulk.evidence["objects_retrieved"] == 400
    assert [f.rule for f in detections.run(today, "all")] == []  # no baseline: the baseline rules stay quiet


def test_known_phi_tags_match_the_dictionary() -> None:
    from pydicom.datadict import tag_for_keyword

    from radguard.monitor.phiscan import KNOWN_TAGS, _phi_tags
    from radguard.phi import PHI_KEYWORDS

    assert {kw: tag_for_keyword(kw) for kw in KNOWN_TAGS} == KNOWN_TAGS
    assert set(_phi_tags().values()) == set(PHI_KEYWORDS)
