"""gateway.toml loading: the issue's example, defaults, relative paths, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from radguard.errors import ConfigError
from radguard.gateway.config import InspectAction, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gateway.toml"

ISSUE_EXAMPLE = """
[gateway]
listen = "127.0.0.1:11112"       # plain DICOM
listen_tls = "127.0.0.1:2762"    # optional, with cert/key (and client CA for mutual TLS)
upstream = "127.0.0.1:4242"
upstream_ae = "ORTHANC"
ae_title = "RADGUARD"            # the called AE title clients must use
[[peer]]
ae = "CT01"
hosts = ["127.0.0.1"]            # calling AE is bound to these source addresses
allow = ["C-ECHO", "C-STORE"]
[[peer]]
ae = "WS01"
hosts = ["127.0.0.1"]
port = 11113                     # optional: where WS01's own storage SCP listens
allow = ["C-ECHO", "C-FIND", "C-MOVE", "C-GET"]
move_destinations = ["WS01"]
[limits]                          # per peer
associations_per_minute = 120
[audit]
file = "audit.jsonl"
syslog = "udp://127.0.0.1:5514"   # also tcp:// and tls:// (RFC 5425)
"""


def test_example_file_loads() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.listen == ("127.0.0.1", 11112) and cfg.listen_tls is None
    assert cfg.upstream == ("127.0.0.1", 4242) and cfg.upstream_ae == "ORTHANC" and cfg.ae_title == "RADGUARD"
    assert sorted(cfg.peers) == ["CT01", "WS01"]
    assert cfg.peers["CT01"].allow == frozenset({"C-ECHO", "C-STORE"})
    assert cfg.peers["WS01"].port == 11113 and cfg.peers["WS01"].move_destinations == ("WS01",)
    assert cfg.audit.file == EXAMPLE.parent / "audit.jsonl"  # relative to the config file
    assert cfg.limits.associations_per_minute == 120
    assert cfg.inspection.enabled and cfg.inspection.executable is InspectAction.REJECT
    assert cfg.inspection.malformed is InspectAction.REJECT  # issue 16 item 7: the PACS never sees what we cannot parse
    assert cfg.audit.include_patient_id is False and cfg.audit.store.value == "alerts"
    assert cfg.peer_for_port_ae("WS01") is cfg.peers["WS01"] and cfg.peer_for_port_ae("CT01") is None


def test_issue_example_works_as_is(tmp_path: Path) -> None:
    p = tmp_path / "g.toml"
    p.write_text(ISSUE_EXAMPLE)
    cfg = load_config(p)
    assert cfg.listen_tls is None and cfg.warnings == ("[gateway] listen_tls ignored: it needs tls_cert and tls_key",)
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    p.write_text(ISSUE_EXAMPLE.replace('ae_title = "RADGUARD"', 'ae_title = "RADGUARD"\ntls_cert = "c.pem"\n'
                                       'tls_key = "k.pem"'))
    cfg = load_config(p)
    assert cfg.listen_tls == ("127.0.0.1", 2762) and cfg.warnings == ()
    assert cfg.tls_cert == tmp_path / "c.pem" and cfg.audit.syslog == "udp://127.0.0.1:5514"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("upstream_ae", "upstream_aet"), r"\[gateway\] upstream_ae is required"),
        (('"C-ECHO", "C-STORE"', '"C-ECHO", "C-STOR"'), r"\[peer CT01\] allow: unknown service\(s\) C-STOR"),
        (('move_destinations = ["WS01"]', 'move_destinations = ["XX"]'), r"XX is not a \[\[peer\]\]"),
        (("associations_per_minute = 120", "associations_per_minute = 0"), r"\[limits\] associations_per_min"),
        (('upstream = "127.0.0.1:4242"', 'upstream = "127.0.0.1"'), r"upstream must look like HOST:PORT"),
        (('file = "audit.jsonl"', 'fil = "a"'), r"\[audit\] unknown key\(s\): fil"),
        (('syslog = "udp://127.0.0.1:5514"', 'syslog = "http://x:1"'), r"unknown scheme"),
        (('ae = "CT01"', 'ae = "THIS-AE-IS-TOO-LONG"'), r"not a valid AE title"),
        (("[limits]", "[limit]"), r"unknown section\(s\): limit"),
        (('ae = "WS01"', 'ae = "CT01"'), r"CT01 is listed twice"),
        (('file = "audit.jsonl"', 'file = "a.jsonl"\nstore = "some"'), r"\[audit\] store must be one of: all"),
    ],
)
def test_clear_errors(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    p = tmp_path / "g.toml"
    p.write_text(ISSUE_EXAMPLE.replace('listen_tls = "127.0.0.1:2762"', "").replace(*edit))
    with pytest.raises(ConfigError, match=message):
        load_config(p)


def test_unreadable_and_invalid(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)


def test_cli_check_example(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from radguard.cli.main import main

    capsys.readouterr()
    assert main(["gateway", "--config", str(EXAMPLE), "--check", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.gateway-config/1" and doc["peers"] == ["CT01", "WS01"]
    assert main(["gateway", "--config", str(EXAMPLE.parent / "missing.toml"), "--check"]) == 2
    assert main(["contain", "--config", str(EXAMPLE)]) == 2  # nothing to do: usage error
    assert main(["contain", "--config", str(EXAMPLE), "--downtime", "--release"]) == 2
