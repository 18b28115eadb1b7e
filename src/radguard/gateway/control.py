"""The local control channel of a running gateway (``radguard contain``).

A Unix domain socket (``[gateway] control``, mode 0600 in a 0700 directory) plus a token file
(mode 0600, new random token at each start): a client must be able to read the token, i.e. be the
gateway's user or root. One JSON object per line each way:
``{"token": ..., "action": "peer"|"read-only"|"downtime"|"release"|"status", "peer": AE|null,
"console_user": name|null}`` → ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``. Actions apply at
once (the same event loop that relays associations), abort the affected associations and are audited;
who asked is the OS user of the connecting process (``SO_PEERCRED``), and the console user the web
console names (``console_user``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import pwd
import secrets
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from radguard.errors import RadguardError, UsageError
from radguard.gateway.bus import ControlRefused, EventBus
from radguard.gateway.config import GatewayConfig

log = logging.getLogger("radguard.gateway")

ACTIONS = ("peer", "read-only", "downtime", "release", "status")
MAX_REQUEST = 4096


#: applies a containment action (``action``, ``peer``, OS user, console user) and returns its result;
#: ValueError for a bad request
Contain = Callable[[str, "str | None", str, "str | None"], dict[str, Any]]


class ControlServer:
    """Serve containment requests for one gateway.

    Parameters
    ----------
    path, token_path : Path
        The Unix socket and the token file (``[gateway] control``).
    contain : callable
        What applies an action (the server's containment); the control channel knows nothing else of it.
    events : EventBus
        Where a refused request is told (the audit records it).
    """

    def __init__(self, path: Path, token_path: Path, contain: Contain, events: EventBus) -> None:
        self._contain, self._events = contain, events
        self.path = path
        self.token_path = token_path
        self.token = secrets.token_urlsafe(32)
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.path.exists() or self.path.is_symlink():
            if _alive(self.path):
                raise UsageError(f"another gateway is running on control socket {self.path}")
            self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._handle, path=str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        fd = os.open(self.token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.token + "\n")
        os.chmod(self.token_path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for p in (self.path, self.token_path):
            with contextlib.suppress(OSError):
                p.unlink()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
        except (TimeoutError, ConnectionError, OSError):
            reply = {"ok": False, "error": "timeout"}
        except ValueError:  # no newline within the stream's limit (64 KiB): readline gives up
            reply = self._too_long()
        else:
            too_long = len(line.rstrip(b"\r\n")) > MAX_REQUEST
            reply = self._too_long() if too_long else self._answer(line, _peer_user(writer))
        writer.write((json.dumps(reply) + "\n").encode())
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()
        writer.close()

    def _too_long(self) -> dict[str, Any]:
        """A request over :data:`MAX_REQUEST` bytes: refused, logged on one line and audited."""
        log.warning("control: request longer than %d bytes refused", MAX_REQUEST)
        self._events.publish(ControlRefused(f"request longer than {MAX_REQUEST} bytes"))
        return {"ok": False, "error": f"request longer than {MAX_REQUEST} bytes (an AE title has at most 16 "
                                      "characters)"}

    def _answer(self, line: bytes, user: str = "unknown") -> dict[str, Any]:
        try:
            req = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "not JSON"}
        if not isinstance(req, dict) or not hmac.compare_digest(str(req.get("token", "")), self.token):
            log.warning("control: request with a bad token refused")
            self._events.publish(ControlRefused("bad token"))
            return {"ok": False, "error": "bad token"}
        action, peer = req.get("action"), req.get("peer")
        if action not in ACTIONS or (peer is not None and not isinstance(peer, str)):
            return {"ok": False, "error": f"unknown action {action!r}"}
        console_user = req.get("console_user")
        if console_user is not None and not (isinstance(console_user, str) and 0 < len(console_user) <= 64
                                             and console_user.isprintable()):
            return {"ok": False, "error": "console_user must be a name of 1-64 printable characters"}
        try:
            result = self._contain(str(action), peer, user, console_user)
        except ValueError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "action": action, **result}


def _peer_user(writer: asyncio.StreamWriter) -> str:
    """The OS user of the process at the other end of the Unix socket (Linux ``SO_PEERCRED``)."""
    sock = writer.get_extra_info("socket")
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        uid = struct.unpack("3i", creds)[1]
    except (AttributeError, OSError):
        return "unknown"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _alive(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def send_control(config: GatewayConfig, action: str, peer: str | None = None, timeout: float = 5.0, *,
                 console_user: str | None = None) -> dict[str, Any]:
    """Client side of the control channel (``radguard contain``; the console names its user)."""
    try:
        token = config.control_token.read_text().strip()
    except OSError as exc:
        raise RadguardError(f"cannot read the gateway token {config.control_token}: {exc.strerror} "
                            "(is the gateway running, and are you its user?)") from None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(config.control))
            request = {"token": token, "action": action, "peer": peer, "console_user": console_user}
            s.sendall((json.dumps(request) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except OSError as exc:
            raise RadguardError(f"cannot reach the gateway on {config.control}: {exc.strerror or exc}") from None
    try:
        reply: dict[str, Any] = json.loads(buf)
    except ValueError:
        raise RadguardError("the gateway sent an unreadable answer") from None
    if not reply.get("ok"):
        raise RadguardError(f"the gateway refused: {reply.get('error')}")
    return reply
