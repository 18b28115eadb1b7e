"""``radguard secret``: the site secret that keys every hash of patient identifiers (README "PHI").

Without ``RADGUARD_PHI_SECRET`` radguard generates the secret on first use into the user data directory
(``phi-secret``, mode 0600); this command shows where it comes from, creates it ahead of time or
replaces it. It never prints the secret itself, only a fingerprint to compare two machines.

Only typer and the standard library at import time.
"""

from __future__ import annotations

import typer

from radguard.cli.options import JsonOption


def register(app: typer.Typer) -> None:
    app.command("secret", help="Show, create or rotate the site secret of the patient-identifier hash.")(secret_cmd)


def secret_cmd(
    init: bool = typer.Option(False, "--init", help="Create the secret file now if it does not exist."),
    rotate: bool = typer.Option(False, "--rotate",
                                help="Replace the secret file by a new one (older hashes stop matching)."),
    json_out: JsonOption = False,
) -> None:
    """Where the PHI hash key comes from: ``RADGUARD_PHI_SECRET`` or the generated file (0600)."""
    import hashlib
    import os

    from radguard import phi
    from radguard.errors import UsageError

    if init and rotate:
        raise UsageError("choose one of --init, --rotate")
    path = phi.secret_path()
    from_env = bool(os.environ.get("RADGUARD_PHI_SECRET"))
    if rotate:
        if from_env:
            raise UsageError("RADGUARD_PHI_SECRET is set: it, not the file, keys the hashes; change it instead")
        phi.rotate_secret(path)
        typer.echo(f"radguard: warning: new site secret in {path}; hashes made before no longer match new ones",
                   err=True)
    secret: bytes | None = None
    if init or (path.exists() and not from_env):
        secret = phi.load_or_create_secret(path)  # creates it (with a warning) only if missing
    if from_env:
        secret = phi.site_secret()
    info = {
        "source": "environment" if from_env else "file",
        "path": str(path),
        "file_exists": path.exists(),
        "mode": f"{path.stat().st_mode & 0o777:04o}" if path.exists() else None,
        "fingerprint": hashlib.sha256(secret).hexdigest()[:16] if secret is not None else None,
    }
    if json_out:
        from radguard.cli.output import emit_json

        emit_json("secret", info)
        return
    if secret is None:
        typer.echo(f"PHI hash secret: {path} (not created yet: created on first use, or now with --init)")
        return
    where = "RADGUARD_PHI_SECRET (environment)" if from_env else f"{path} (mode {info['mode']})"
    typer.echo(f"PHI hash secret: {where}; fingerprint sha256:{info['fingerprint']}")
