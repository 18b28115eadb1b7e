"""``radguard gateway --check`` does what a start does short of binding (issue 16 item 8).

Each case here passed ``--check`` before and then failed at start (or, for addresses, never matched).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from radguard.cli.main import main
from radguard.errors import ConfigError
from radguard.gateway.config import load_config
from radguard.gateway.startup import prepare

BASE = """
[gateway]
listen = "127.0.0.1:0"
upstream = "{upstream}"
upstream_ae = "PACS"
ae_title = "RADGUARD"
control = "run/gateway.sock"
{gateway}
[[peer]]
ae = "CT01"
hosts = ["127.0.0.1"]
allow = ["C-ECHO", "C-STORE"]

[[peer]]
ae = "WS01"
hosts = {ws_hosts}
allow = ["C-ECHO"]

[inspection]
{inspection}
[audit]
file = "{audit_file}"
{audit}
"""


def _write(tmp_path: Path, *, upstream: str = "127.0.0.1:4242", gateway: str = "", ws_hosts: str = '["127.0.0.1"]',
           inspection: str = "", audit_file: str = "audit.jsonl", audit: str = "") -> Path:
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(BASE.format(upstream=upstream, gateway=gateway, ws_hosts=ws_hosts, inspection=inspection,
                               audit_file=audit_file, audit=audit))
    return cfg


def _check(cfg: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["gateway", "--config", str(cfg), "--check"])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(("hosts", "message"), [
    ('["127.0.0.1", "10.0.0.0/33"]', "peer[1].hosts[1]: '10.0.0.0/33' is not an IP address or network (peer WS01)"),
    ('["300.1.1.1"]', "peer[1].hosts[0]: '300.1.1.1' is not an IP address or network (peer WS01)"),
    ('["10.1"]', "peer[1].hosts[0]: '10.1' is not an IP address or network"),
    ('["ws 01.example"]', "peer[1].hosts[0]: 'ws 01.example' is not an IP address, network or host name"),
    ('["::1/129"]', "peer[1].hosts[0]: '::1/129' is not an IP address or network"),
])
def test_an_invalid_host_entry_is_an_error_naming_the_key(tmp_path: Path, hosts: str, message: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write(tmp_path, ws_hosts=hosts)
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert message in str(info.value)
    code, err = _check(cfg, capsys)
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_valid_addresses_networks_and_host_names_pass(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, ws_hosts='["10.0.0.0/8", "::1", "fe80::1%lo", "ws01.example.org", "localhost"]',
                             upstream="pacs.example.org:104"))
    assert cfg.peers["WS01"].hosts[3] == "ws01.example.org" and cfg.upstream == ("pacs.example.org", 104)


@pytest.mark.parametrize(("upstream", "message"), [
    ("300.1.1.1:104", "[gateway] upstream: '300.1.1.1' is not an IP address"),
    ("pacs!:104", "[gateway] upstream: 'pacs!' is not an IP address or host name"),
    ("[::1::2]:104", "[gateway] upstream: '::1::2' is not an IP address"),
])
def test_an_upstream_that_is_not_an_address(tmp_path: Path, upstream: str, message: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _check(_write(tmp_path, upstream=upstream), capsys)
    assert code == 2 and message in err, err


def _a_file(tmp_path: Path) -> str:
    (tmp_path / "plain").write_text("a file, not a directory")
    return str(tmp_path / "plain")


@pytest.mark.parametrize("case", ["audit-dir", "secret", "tls", "syslog-tls", "spool", "quarantine", "audit-spool",
                                  "control"])
def test_what_would_fail_at_start_fails_the_check(tmp_path: Path, case: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    blocked = _a_file(tmp_path)
    if case == "audit-dir":
        cfg, key = _write(tmp_path, audit_file=f"{blocked}/logs/audit.jsonl"), "[audit] file: cannot create"
    elif case == "secret":
        cfg, key = _write(tmp_path, audit='secret_file = "missing-secret"'), "[audit] secret_file: cannot read"
    elif case == "tls":
        (tmp_path / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
        (tmp_path / "key.pem").write_text("garbage")
        cfg = _write(tmp_path, gateway='listen_tls = "127.0.0.1:0"\ntls_cert = "cert.pem"\ntls_key = "key.pem"')
        key = "[gateway] TLS certificate/key"
    elif case == "syslog-tls":
        (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
        cfg, key = _write(tmp_path, audit='syslog = "tls://127.0.0.1:6514"\ntls_ca = "ca.pem"'), "[audit] syslog TLS"
    elif case == "spool":
        cfg, key = _write(tmp_path, gateway=f'spool = "{blocked}/spool"'), "[gateway] spool: cannot create"
    elif case == "quarantine":
        cfg = _write(tmp_path, inspection=f'malformed = "quarantine"\nquarantine = "{blocked}/q"')
        key = "[inspection] quarantine: cannot create"
    elif case == "audit-spool":
        cfg = _write(tmp_path, audit=f'syslog = "tcp://127.0.0.1:6514"\nspool = "{blocked}/s"')
        key = "[audit] spool: cannot create"
    else:
        cfg = _write(tmp_path)
        cfg.write_text(cfg.read_text().replace('control = "run/gateway.sock"', f'control = "{blocked}/gw.sock"'))
        key = f"[gateway] control: {blocked} is not a directory"
    load_config(cfg)  # the configuration itself parses: only preparing the start finds the problem
    code, err = _check(cfg, capsys)
    assert code == 2 and key in err and len(err.splitlines()) == 1, err
    assert err.startswith("radguard: error: ")


def test_a_corrupt_containment_state_fails_the_check_and_the_start(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write(tmp_path)
    (tmp_path / "run").mkdir(mode=0o700)
    state = tmp_path / "run" / "gateway.state"
    state.write_text("{truncated")
    os.chmod(state, 0o600)
    code, err = _check(cfg, capsys)
    assert code == 2 and f"containment state {state}: not JSON" in err
    with pytest.raises(ConfigError, match="not JSON"):
        prepare(load_config(cfg))  # what the server runs before it listens


def test_the_check_creates_nothing_and_reports_containment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write(tmp_path, inspection='malformed = "quarantine"', audit='syslog = "tcp://127.0.0.1:6514"')
    before = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()
    assert main(["gateway", "--config", str(cfg), "--check", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.gateway-config/1" and doc["containment"] == [] and doc["warnings"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no spool, quarantine, run/ or audit file
    # the start creates them (0700), and a containment saved there is reported by the next check
    startup = prepare(load_config(cfg))
    for d in ("spool", "quarantine", "audit-spool", "run"):
        assert (tmp_path / d).is_dir() and (tmp_path / d).stat().st_mode & 0o077 == 0, d
    startup.containment.apply("peer", "CT01", "root")
    startup.state.save(startup.containment)
    code, err = _check(cfg, capsys)
    assert code == 0 and err.endswith("OK (2 peers; 1 containment(s) in force at start)")
