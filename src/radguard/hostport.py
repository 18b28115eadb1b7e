"""``HOST:PORT`` as the CLI options and configuration files spell an address.

One parser for every place that reads one (the gateway's ``listen``/``upstream``, ``radguard decoy --listen``,
``radguard policy learn --listen``, ``radguard train remind --smtp``); each caller words its own error.
"""

from __future__ import annotations


def parse_host_port(text: str, *, port_zero: bool = False) -> tuple[str, int] | None:
    """``(host, port)`` of ``HOST:PORT``, or ``None`` when ``text`` does not look like one.

    The port is the part after the last colon, so an IPv6 address goes in brackets (``[::1]:104``);
    the brackets are taken off the host. The host must not be empty and the port must be decimal digits
    below 65536; port 0 (any free port, for a listener) only with ``port_zero``.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not (0 if port_zero else 1) <= int(port) < 65536:
        return None
    return host.strip("[]"), int(port)
