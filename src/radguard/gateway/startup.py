"""Everything ``radguard gateway`` does before it binds, shared with ``radguard gateway --check`` (issue 16 item 8).

:func:`prepare` builds the objects a start needs besides its sockets: the DICOM TLS server context
(PS3.15 B.1), the site secret of the Patient ID hash, the syslog sender (RFC 5424/5425, its TLS context),
the containment restored from its state file; it checks that every directory the gateway writes to (C-STORE
spool, quarantine, control socket, audit file and spool) exists or can be created and is writable. The
server calls it with ``create=True`` before listening; ``--check`` calls it with ``create=False`` and stops
there, so a configuration that passes ``--check`` starts (short of a port already in use). Every problem
is a :class:`~radguard.errors.ConfigError` with one line naming the key.
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from radguard.errors import ConfigError
from radguard.gateway.config import GatewayConfig, InspectAction, site_secret
from radguard.gateway.containment import Containment, StateFile, state_path


def server_tls_context(config: GatewayConfig) -> ssl.SSLContext:
    """DICOM TLS (PS3.15 B.1, BCP 195): TLS 1.2+, mutual authentication when a client CA is set."""
    assert config.tls_cert is not None and config.tls_key is not None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(str(config.tls_cert), str(config.tls_key))
        if config.tls_client_ca is not None:
            ctx.load_verify_locations(str(config.tls_client_ca))
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[gateway] TLS certificate/key: {exc}") from None
    return ctx


@dataclass
class Startup:
    """What :func:`prepare` built: the start uses these objects, ``--check`` reports on them."""

    tls: ssl.SSLContext | None
    secret: bytes | None
    containment: Containment
    state: StateFile


def writable_dir(key: str, path: Path, *, create: bool) -> None:
    """``path`` is a directory the gateway can write, or can be created (and is, with ``create``: mode 0700)."""
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{key}: {path} is not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{key}: {path} is not writable")
        return
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        what = "is not a directory" if not ancestor.is_dir() else "is not writable"
        raise ConfigError(f"{key}: cannot create {path}: {ancestor} {what}")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"{key}: cannot create {path}: {exc.strerror or exc}") from None


def writable_file(key: str, path: Path, *, create: bool) -> None:
    """``path`` can be appended to (an existing regular file that is writable, or a new one in a writable dir)."""
    if path.exists():
        if not path.is_file():
            raise ConfigError(f"{key}: {path} is not a regular file")
        if not os.access(path, os.W_OK):
            raise ConfigError(f"{key}: {path} is not writable")
        return
    writable_dir(key, path.parent, create=create)


def _readable(key: str, path: Path | None) -> None:
    if path is None:
        return
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror or exc}") from None


def _syslog(config: GatewayConfig) -> None:
    """Build the syslog sender start builds (its TLS context loads the CA and client certificate)."""
    audit = config.audit
    if audit.syslog is None:
        return
    from radguard.audittrail.syslog import SyslogTarget, make_sender

    for key, path in (("tls_ca", audit.tls_ca), ("tls_cert", audit.tls_cert), ("tls_key", audit.tls_key)):
        _readable(f"[audit] {key}", path)
    try:
        make_sender(SyslogTarget.parse(audit.syslog), ca=audit.tls_ca, cert=audit.tls_cert,
                    key=audit.tls_key).close()
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"[audit] syslog TLS: {exc}") from None


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        return False
    return True


def unresolved_hosts(config: GatewayConfig) -> list[str]:
    """Warnings for host names (upstream, peer hosts) that do not resolve now (they are resolved when used)."""
    import ipaddress

    notes: list[str] = []
    named = [("[gateway] upstream", config.upstream[0])] + [
        (f"[peer {p.ae}] hosts", h) for p in config.peers.values() for h in p.hosts]
    for key, host in named:
        try:
            ipaddress.ip_network(host, strict=False)
        except ValueError:
            if not _resolves(host):
                notes.append(f"{key}: host name {host!r} does not resolve now")
    return notes


def prepare(config: GatewayConfig, *, create: bool = True) -> Startup:
    """Build and check everything a start needs short of binding; ConfigError (one line, the key) if not.

    Parameters
    ----------
    config : GatewayConfig
        The loaded configuration.
    create : bool
        Create the directories the gateway writes to (the start); ``--check`` only checks they can be.
    """
    tls = server_tls_context(config) if config.listen_tls is not None else None
    secret = site_secret(config.audit)
    _syslog(config)
    writable_dir("[gateway] spool", config.spool, create=create)
    ins = config.inspection
    if ins.enabled and InspectAction.QUARANTINE in (ins.executable, ins.active_content, ins.malformed, ins.other):
        writable_dir("[inspection] quarantine", ins.quarantine, create=create)
    writable_dir("[gateway] control", config.control.parent, create=create)
    writable_file("[gateway] token_file", config.control_token, create=create)
    if config.audit.file is not None:
        writable_file("[audit] file", config.audit.file, create=create)
    if config.audit.syslog is not None:
        writable_dir("[audit] spool", config.audit.spool, create=create)
    state = StateFile(state_path(config.control))
    return Startup(tls=tls, secret=secret, containment=state.load(), state=state)
