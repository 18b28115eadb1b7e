"""The attack library: one module per attack, each exporting ``ATTACK``
(an :class:`~radguard.range.attacks.kit.Attack`).

An attack names its MITRE ATT&CK techniques, its precondition, how its success is measured
(objects exfiltrated at the rogue AE, objects stored, altered or lost, PHI bytes sniffed) and the
layers of defense expected to stop or see it. :mod:`radguard.range.runner` runs them against a
range (:mod:`radguard.range.lab`) and measures what each layer did.
"""

from __future__ import annotations

import importlib

from radguard.errors import UsageError
from radguard.range.attacks.kit import Attack

#: every attack of the library, in the order a run plays them (network first, archive last)
NAMES: tuple[str, ...] = (
    "port_sweep", "ae_brute_force", "find_harvest", "move_exfil", "get_exfil", "rest_harvest",
    "default_credentials", "polyglot_store", "polyglot_rest", "active_content_store", "new_host_modality",
    "association_flood", "contained_modality", "insider_bulk_retrieve", "slow_recon", "honeytoken_retrieve",
    "cleartext_sniff",
    "polyglot_archive", "pixel_tamper", "header_tamper", "ransomware_full", "ransomware_intermittent",
    "ransomware_header", "wiper", "backup_poisoning", "ledger_tamper",
)


def load(name: str) -> Attack:
    """The attack called ``name`` (module name, dashes allowed); UsageError when unknown."""
    mod = name.replace("-", "_")
    if mod not in NAMES:
        raise UsageError(f"unknown attack {name!r} (known: {', '.join(n.replace('_', '-') for n in NAMES)})")
    attack: Attack = importlib.import_module(f"radguard.range.attacks.{mod}").ATTACK
    return attack


def library(names: list[str] | None = None) -> list[Attack]:
    """The attacks named (every one when ``names`` is empty), each checked before any runs."""
    return [load(n) for n in (names or list(NAMES))]
