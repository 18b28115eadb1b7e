"""``radguard gateway`` as a process: ``radguard contain`` over the control socket, SIGHUP reload, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radguard.cli.main import main
from radguard.dicom.dimse import c_echo_rq, fragment
from radguard.dicom.events import Aborted, AssociateAccepted, CommandReceived
from radguard.dicom.pdu import AssociateRequest, PresentationContext
from radguard.dicom.uids import IMPLICIT_VR_LITTLE_ENDIAN, VERIFICATION
from radguard.dicom.ul import Role, UpperLayer
from tests.integration.test_gateway_helpers import LOOPBACK, dcmtk, make_files, reject_line
from tests.support.peers import free_port, start_storescp, wait_port

pytestmark = pytest.mark.integration

CONFIG = """
[gateway]
listen = "127.0.0.1:{port}"
upstream = "127.0.0.1:{up}"
upstream_ae = "STORESCP"
ae_title = "RADGUARD"
control = "run/control.sock"

[[peer]]
ae = "CT01"
hosts = ["127.0.0.1"]
allow = ["C-ECHO", "C-STORE"]
{extra}
[audit]
file = "audit.jsonl"
"""


class RawAssociation:
    """A client association held open, driven by the sans-io upper layer over a blocking socket."""

    def __init__(self, port: int, calling: str) -> None:
        self.sock = socket.create_connection((LOOPBACK, port), timeout=5)
        self.ul = UpperLayer(Role.REQUESTOR)
        rq = AssociateRequest(called_ae="RADGUARD", calling_ae=calling,
                              contexts=[PresentationContext(1, VERIFICATION, [IMPLICIT_VR_LITTLE_ENDIAN])])
        self.sock.sendall(self.ul.send(rq))
        assert any(isinstance(e, AssociateAccepted) for e in self._events())

    def _events(self) -> list[object]:
        events: list[object] = []
        while not events:
            data = self.sock.recv(65536)
            if not data:
                return [Aborted(None)]  # type: ignore[arg-type]
            events = list(self.ul.receive(data))
        return events

    def echo(self, msg_id: int) -> int | None:
        for pdu in fragment(1, c_echo_rq(msg_id).encode(), None, self.ul.peer_max_pdu or 0):
            self.sock.sendall(pdu)
        for e in self._events():
            if isinstance(e, CommandReceived):
                return e.command.status
        return None

    def wait_abort(self) -> bool:
        return any(isinstance(e, Aborted) for e in self._events())

    def close(self) -> None:
        self.sock.close()


def _contain(cfg: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["contain", "--config", str(cfg), *args, "--json"]) == 0
    doc: dict[str, object] = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.contain/1"
    return doc


def _echo(port: int, ae: str) -> subprocess.CompletedProcess[str]:
    return dcmtk(["echoscu", "-aet", ae, "-aec", "RADGUARD", LOOPBACK, str(port)])


def test_contain_and_reload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storescp = start_storescp(tmp_path, extra_args=["--fork"])  # held associations must not block the others
    port = free_port()
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(CONFIG.format(port=port, up=storescp.port, extra=""))
    proc = subprocess.Popen([sys.executable, "-m", "radguard.cli.main", "gateway", "--config", str(cfg)],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        wait_port(LOOPBACK, port, proc=proc)  # type: ignore[arg-type]
        sock_path = tmp_path / "run" / "control.sock"
        assert stat.S_IMODE(sock_path.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "run" / "control.token").stat().st_mode) == 0o600
        assert _echo(port, "CT01").returncode == 0

        held = RawAssociation(port, "CT01")
        assert held.echo(1) == 0
        doc = _contain(cfg, "--peer", "CT01", capsys=capsys)
        assert doc["aborted"] == 1 and doc["state"]["peers"] == ["CT01"]  # type: ignore[index]
        assert held.wait_abort()
        held.close()
        assert reject_line(_echo(port, "CT01")) == ("Rejected Permanent, Source: Service User / "
                                                    "Calling AE Title Not Recognized")
        _contain(cfg, "--release", capsys=capsys)
        assert _echo(port, "CT01").returncode == 0

        files = make_files(tmp_path / "in", 1)
        _contain(cfg, "--read-only", capsys=capsys)
        ro = dcmtk(["storescu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(port), str(files[0])])
        assert "Status: 0x124" in ro.stderr
        assert list(storescp.extra["store"].iterdir()) == []
        _contain(cfg, "--release", capsys=capsys)
        assert dcmtk(["storescu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(port),
                      str(files[0])]).returncode == 0
        assert len(list(storescp.extra["store"].iterdir())) == 1

        _contain(cfg, "--downtime", capsys=capsys)
        assert reject_line(_echo(port, "CT01")) == ("Rejected Transient, Source: Service Provider "
                                                    "(Presentation Related) / Temporary Congestion")
        status = _contain(cfg, "--status", capsys=capsys)
        assert status["state"]["downtime"] is True  # type: ignore[index]
        _contain(cfg, "--release", capsys=capsys)

        # a wrong token is refused
        token = tmp_path / "run" / "control.token"
        good = token.read_text()
        token.write_text("forged\n")
        assert main(["contain", "--config", str(cfg), "--downtime"]) == 2
        token.write_text(good)

        # SIGHUP: a new peer appears, the open association survives
        held = RawAssociation(port, "CT01")
        assert reject_line(_echo(port, "MR01")).endswith("Calling AE Title Not Recognized")
        cfg.write_text(CONFIG.format(port=port, up=storescp.port,
                                     extra='[[peer]]\nae = "MR01"\nhosts = ["127.0.0.1"]\nallow = ["C-ECHO"]\n'))
        proc.send_signal(signal.SIGHUP)
        for _ in range(100):
            if _echo(port, "MR01").returncode == 0:
                break
            time.sleep(0.05)
        assert _echo(port, "MR01").returncode == 0
        assert held.echo(2) == 0
        held.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
        storescp.stop()
    assert rc == 0
    assert not (tmp_path / "run" / "control.sock").exists()
    events = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    containment = [e for e in events if e["event"] == "110113" and e["event_types"] == ["110129"]]
    assert [e["description"].split(":")[0] for e in containment] == [
        "contain peer", "contain release", "contain read-only", "contain release", "contain downtime",
        "contain release"]
    assert events[0]["event_types"] == ["110120"] and events[-1]["event_types"] == ["110121"]
    assert os.path.exists(tmp_path / "audit.jsonl")


def _start_gateway(cfg: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "radguard.cli.main", "gateway", "--config", str(cfg)],
                            cwd=cfg.parent, stderr=subprocess.PIPE, text=True)
    wait_port(LOOPBACK, port, proc=proc)  # type: ignore[arg-type]
    return proc


def _stop_gateway(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(30)


def test_containment_survives_a_restart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16 item 6: state file next to the control socket, restored before listening, shown with who/when."""
    import pwd

    from radguard.gateway.config import load_config
    from radguard.gateway.control import send_control

    me = pwd.getpwuid(os.geteuid()).pw_name
    storescp = start_storescp(tmp_path)
    port = free_port()
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(CONFIG.format(port=port, up=storescp.port, extra=""))
    state = tmp_path / "run" / "control.state"
    proc = _start_gateway(cfg, port)
    try:
        holds = _contain(cfg, "--peer", "CT01", capsys=capsys)["state"]["holds"]  # type: ignore[index]
        assert [(h["kind"], h["peer"], h["by"], h["console_user"]) for h in holds] == [("peer", "CT01", me, None)]
        send_control(load_config(cfg), "read-only", None, console_user="alice")  # as the web console sends it
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        assert [h["kind"] for h in json.loads(state.read_text())["holds"]] == ["peer", "read-only"]
    finally:
        assert _stop_gateway(proc) == 0
    proc = _start_gateway(cfg, port)
    try:
        # the very first association after the restart is refused
        assert reject_line(_echo(port, "CT01")) == ("Rejected Permanent, Source: Service User / "
                                                    "Calling AE Title Not Recognized")
        capsys.readouterr()
        assert main(["contain", "--config", str(cfg), "--status"]) == 0
        out = capsys.readouterr().out
        assert "containment: 2 in force" in out, out
        assert "peer CT01 shut out" in out and f"by {me}, since 20" in out
        assert "read-only" in out and f"by alice (console, as {me}), since 20" in out
        after = _contain(cfg, "--release", "--peer", "CT01", capsys=capsys)
        assert [h["kind"] for h in after["state"]["holds"]] == ["read-only"]  # type: ignore[index]
        assert _echo(port, "CT01").returncode == 0
        _contain(cfg, "--release", capsys=capsys)
    finally:
        assert _stop_gateway(proc) == 0
        storescp.stop()
    assert json.loads(state.read_text())["holds"] == []
    # a state file others may change is not trusted: the gateway does not start (fail closed), one clear line
    os.chmod(state, 0o644)
    run = subprocess.run([sys.executable, "-m", "radguard.cli.main", "gateway", "--config", str(cfg)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "mode 0644, must be 0600" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
