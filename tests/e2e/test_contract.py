"""The CLI contract of every command, as a separate process (README "CLI contract", DESIGN.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from radguard.catalog import is_known
from radguard.range.samples import bundled
from tests.e2e.cli import check_sarif, json_doc, no_traceback, radguard, usage_error
from tests.support.peers import free_port

HEAVY = ("pydicom", "pynetdicom", "sqlalchemy", "alembic", "numpy", "cryptography", "dask", "distributed",
         "dpkt", "httpx", "lxml", "fastapi", "uvicorn", "psutil")
COMMANDS = ("", "scan", "keygen", "seal", "audit", "recover", "canary", "canary plant", "gateway", "contain",
            "pcap", "monitor", "runs", "findings", "findings list", "findings diff", "controls",
            "controls list", "controls show", "rules", "rules show", "report", "demo", "train", "train take",
            "decoy", "decoy plant")
UNREACHABLE = "postgresql://x@127.0.0.1:1/x"


def test_help_of_every_command_imports_nothing_heavy() -> None:
    """``radguard --help`` and ``radguard CMD --help``: exit 0, usage on stdout, no heavy library imported."""
    code = (
        "import sys, json\n"
        "from radguard.cli.main import main\n"
        "out = {}\n"
        f"for cmd in {COMMANDS!r}:\n"
        "    before = set(sys.modules)\n"
        "    rc = main([*cmd.split(), '--help'])\n"
        f"    heavy = sorted(m for m in set(sys.modules) if m.split('.')[0] in {HEAVY!r})\n"
        "    out[cmd] = [rc, heavy]\n"
        "sys.stderr.write(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    result = json.loads(proc.stderr)
    assert {cmd: v for cmd, v in result.items() if v != [0, []]} == {}
    assert proc.stdout.count("Usage: radguard") == len(COMMANDS)


def test_version() -> None:
    proc = radguard(["--version"])
    assert proc.returncode == 0 and proc.stdout.startswith("radguard ")


@pytest.mark.parametrize("args", [
    ["scan", "127.0.0.1", "-p", "abc", "--json"],
    ["scan", "127.0.0.1", "-p", "70000", "--json"],
    ["scan", "10.0.0.0/8", "--json"],
    ["scan", "@/nonexistent/targets.txt", "--json"],
    ["scan", "127.0.0.1", "--fail-on", "bogus", "--json"],
    ["audit", "/tmp", "--fail-on", "severe", "--json"],
    ["pcap", "/nonexistent/x.pcap", "--json"],
    ["pcap", "/dev/null", "--profile", "bogus", "--json"],
    ["pcap", "/dev/null", "--threshold", "x=y", "--json"],
    ["gateway", "--config", "/nonexistent/gateway.toml", "--check"],
    ["contain", "--config", "/nonexistent/gateway.toml", "--status", "--json"],
    ["findings", "list", "999", "--json"],
    ["findings", "diff", "998", "999", "--json"],
    ["controls", "show", "bogus:1", "--json"],
    ["recover", "/tmp", "--from", "/nonexistent/backup", "--json"],
])
def test_bad_arguments_exit_2_one_line(args: list[str]) -> None:
    line = usage_error(radguard(args))
    assert line.startswith("radguard: error: "), line


@pytest.mark.parametrize("args", [
    ["scan"],                            # missing argument
    ["scan", "127.0.0.1", "--bogus"],    # unknown option
    ["findings", "list", "abc"],         # not an integer
    ["controls", "list", "extra"],       # extra argument
    ["nocommand"],                       # unknown command
    ["canary"],                          # a group without its subcommand
])
def test_parse_errors_are_usage_errors_not_internal_errors(args: list[str]) -> None:
    proc = radguard(args)
    no_traceback(proc)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "internal error" not in proc.stderr and "RADGUARD_DEBUG" not in proc.stderr, proc.stderr


def _key_env(tmp_path: Path) -> dict[str, str]:
    return {"RADGUARD_KEY": str(tmp_path / "keys" / "signing.pem")}


def test_invalid_gateway_configs_exit_2(tmp_path: Path) -> None:
    bad = {"syntax.toml": "[gateway\n", "missing.toml": "[gateway]\nlisten = \"127.0.0.1:0\"\n",
           "types.toml": "[gateway]\nlisten = 5\nupstream = \"127.0.0.1:1\"\nupstream_ae = \"X\"\nae_title = \"Y\"\n",
           "peer.toml": ("[gateway]\nlisten = \"127.0.0.1:1\"\nupstream = \"127.0.0.1:1\"\nupstream_ae = \"X\"\n"
                         "ae_title = \"Y\"\n[[peer]]\nae = \"CT01\"\nhosts = [\"127.0.0.1\"]\nallow = [\"C-HACK\"]\n")}
    for name, text in bad.items():
        cfg = tmp_path / name
        cfg.write_text(text)
        for args in (["gateway", "--config", str(cfg), "--check"], ["contain", "--config", str(cfg), "--status"]):
            line = usage_error(radguard(args))
            assert line.startswith("radguard: error: ") and name in line, line
    unreadable = tmp_path / "dir.toml"
    unreadable.mkdir()
    usage_error(radguard(["gateway", "--config", str(unreadable), "--check"]))


def test_gateway_check_json_of_the_issue_example(tmp_path: Path) -> None:
    cfg = tmp_path / "gateway.toml"
    cfg.write_text("""
[gateway]
listen = "127.0.0.1:11112"
listen_tls = "127.0.0.1:2762"
upstream = "127.0.0.1:4242"
upstream_ae = "ORTHANC"
ae_title = "RADGUARD"
[[peer]]
ae = "CT01"
hosts = ["127.0.0.1"]
allow = ["C-ECHO", "C-STORE"]
[[peer]]
ae = "WS01"
hosts = ["127.0.0.1"]
port = 11113
allow = ["C-ECHO", "C-FIND", "C-MOVE", "C-GET"]
move_destinations = ["WS01"]
[limits]
associations_per_minute = 120
[audit]
file = "audit.jsonl"
syslog = "udp://127.0.0.1:5514"
""")
    proc = radguard(["gateway", "--config", str(cfg), "--check", "--json"])
    doc = json_doc(proc, "gateway-config")
    assert doc["warnings"] == ["[gateway] listen_tls ignored: it needs tls_cert and tls_key"]


def test_unreachable_store_exits_2_for_every_store_command(tmp_path: Path) -> None:
    arc = tmp_path / "arc"
    arc.mkdir()
    shutil.copy(bundled("CT_small.dcm"), arc)
    env = {"RADGUARD_DB": UNREACHABLE, **_key_env(tmp_path)}
    assert radguard(["keygen"], env=env).returncode == 0
    pcap = tmp_path / "empty.pcap"
    pcap.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    closed = str(free_port())
    for args in (["runs", "--json"], ["findings", "list", "1", "--json"], ["findings", "diff", "1", "2", "--json"],
                 ["seal", str(arc), "--json", "--workers", "1"], ["audit", str(arc), "--json", "--workers", "1"],
                 ["recover", str(arc), "--from", str(arc), "--json"],
                 ["canary", "plant", str(tmp_path / "c"), "--json"],
                 ["scan", "127.0.0.1", "-p", closed, "--json", "--timeout", "0.5"], ["pcap", str(pcap), "--json"]):
        line = usage_error(radguard(args, env=env))
        assert line.startswith("radguard: error: ") and "store" in line, (args, line)


def test_unreadable_store_url_exits_2(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database\n")
    for url in ("bogus://", "sqlite:////etc/passwd/radguard.db", f"sqlite:///{garbage}"):
        line = usage_error(radguard(["runs", "--json"], env={"RADGUARD_DB": url}))
        assert line.startswith("radguard: error: "), line


def test_scan_closed_and_unresolvable_are_results(tmp_path: Path) -> None:
    closed = free_port()
    sarif = tmp_path / "scan.sarif"
    doc = json_doc(radguard(["scan", "127.0.0.1", "no-such-host.invalid", "-p", str(closed), "--timeout", "1",
                             "--json", "--sarif", str(sarif)]), "scan")
    assert doc["findings"] == []
    assert [e["target"] for e in doc["errors"]] == ["no-such-host.invalid"]
    assert [(p["target"], p["state"]) for p in doc["ports"]] == [(f"127.0.0.1:{closed}", "closed")]
    check_sarif(sarif, doc["findings"])
    runs = json_doc(radguard(["runs", "--kind", "scan", "--json"]), "runs")
    assert [r["id"] for r in runs["runs"]] == [doc["run"]]


def test_rules_catalogue() -> None:
    doc = json_doc(radguard(["rules", "--json"]), "rules")
    assert doc["count"] == len(doc["rules"]) >= 30
    for rule in doc["rules"]:
        assert rule["severity"] in ("critical", "high", "medium", "low", "info"), rule["id"]
        assert rule["controls"] and all(is_known(c["ref"]) for c in rule["controls"]), rule["id"]
    one = json_doc(radguard(["rules", "show", "dicom-any-calling-ae", "--json"]), "rule")
    assert "dicom-any-calling-ae" in json.dumps(one)
    usage_error(radguard(["rules", "show", "no-such-rule", "--json"]))


def test_controls_list_and_show() -> None:
    doc = json_doc(radguard(["controls", "list", "--json"]), "controls")
    text = json.dumps(doc)
    assert "164.312(e)(1)" in text and "PR.DS-02" in text
    show = json_doc(radguard(["controls", "show", "hipaa:164.312(e)(1)", "--json"]), "control")
    assert "164.312(e)(1)" in json.dumps(show)


@pytest.mark.parametrize("cmd", ["scan", "audit", "seal", "recover", "findings", "pcap", "pcap-records",
                                 "pcap-zeek", "pcap-baseline", "keygen"])
def test_unwritable_output_file_is_a_clear_error(cmd: str, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    bad = str(afile / "out")
    arc = tmp_path / "arc"
    arc.mkdir()
    shutil.copy(bundled("CT_small.dcm"), arc)
    env = _key_env(tmp_path)
    assert radguard(["keygen"], env=env).returncode == 0
    pcap = tmp_path / "empty.pcap"
    pcap.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    args = {
        "scan": ["scan", "127.0.0.1", "-p", str(free_port()), "--timeout", "0.5", "--sarif", bad],
        "audit": ["audit", str(arc), "--workers", "1", "--sarif", bad],
        "seal": ["seal", str(arc), "--workers", "1", "--sarif", bad],
        "recover": ["recover", str(arc), "--from", str(arc), "--sarif", bad],
        "findings": ["findings", "list", "--kind", "keygen", "--sarif", bad],
        "pcap": ["pcap", str(pcap), "--sarif", bad],
        "pcap-records": ["pcap", str(pcap), "--records", bad + "/r.jsonl"],
        "pcap-zeek": ["pcap", str(pcap), "--zeek-log", str(afile)],
        "pcap-baseline": ["pcap", str(pcap), "--learn-baseline", bad],
        "keygen": ["keygen", "--key", bad + "/k.pem"],
    }[cmd]
    if cmd == "findings":
        json_doc(radguard(["seal", str(arc), "--workers", "1", "--json"], env=env), "seal")
        args = ["findings", "list", "--kind", "seal", "--sarif", bad]
    proc = radguard([*args, "--json"], env=env)
    no_traceback(proc)
    assert proc.returncode == 2
    assert "internal error" not in proc.stderr and bad.split("/out")[0] in proc.stderr, proc.stderr
