"""Host entries of ``gateway.toml``: IP addresses, CIDR networks, host names, and nothing else (issue 16 item 8).

An entry that is none of them (``300.1.1.1``, ``10.0.0.0/33``) used to be taken for a host name that never
resolves: an allowlist entry that silently matches nothing. Now it is a configuration error naming the key.
"""

from __future__ import annotations

import ipaddress
import re

from radguard.errors import ConfigError

#: an RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, the last one not all digits
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _is_host_name(value: str) -> bool:
    labels = value.rstrip(".").split(".")
    return (len(value) <= 253 and all(_LABEL.fullmatch(x) for x in labels)
            and not labels[-1].isdigit())


def check_host(key: str, value: str, *, networks: bool = False) -> str:
    """``value`` if it is an IP address (or, with ``networks``, a CIDR network) or a host name; else ConfigError.

    ``300.1.1.1`` or ``10.0.0.0/33`` would otherwise be taken for a host name that never resolves: an
    allowlist entry that silently matches nothing, or an upstream nobody can reach (issue 16 item 8).
    """
    try:
        if networks and "/" in value:
            ipaddress.ip_network(value, strict=False)
        else:
            ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if "/" not in value and ":" not in value and _is_host_name(value):
        return value
    numeric = "/" in value or ":" in value or all(c.isdigit() or c == "." for c in value)
    if numeric:
        what = "an IP address or network" if networks else "an IP address"
    else:
        what = "an IP address, network or host name" if networks else "an IP address or host name"
    raise ConfigError(f"{key}: {value!r} is not {what}")
