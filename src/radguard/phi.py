"""PHI handling helpers: radguard never stores or prints identifying values.

Use :func:`phi_hash` where a value must remain linkable (same patient, same
hash) without being recoverable, and :func:`redact` where only its presence matters.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from radguard.errors import RadguardError

#: DICOM attributes treated as directly patient-identifying: tag (``0xggggeeee``) -> keyword, radguard's one
#: table of them. Source: DICOM PS3.15 Annex E Table E.1-1 (Basic Profile), patient module subset; tags from
#: the PS3.6 data dictionary (tests check them against pydicom's), so that no per-packet path needs pydicom.
PHI_TAGS: Mapping[int, str] = MappingProxyType({
    0x00080050: "AccessionNumber",
    0x00080080: "InstitutionName",
    0x00080081: "InstitutionAddress",
    0x00080090: "ReferringPhysicianName",
    0x00081050: "PerformingPhysicianName",
    0x00081070: "OperatorsName",
    0x00100010: "PatientName",
    0x00100020: "PatientID",
    0x00100021: "IssuerOfPatientID",
    0x00100030: "PatientBirthDate",
    0x00100032: "PatientBirthTime",
    0x00101000: "OtherPatientIDs",
    0x00101001: "OtherPatientNames",
    0x00101002: "OtherPatientIDsSequence",
    0x00101005: "PatientBirthName",
    0x00101040: "PatientAddress",
    0x00101060: "PatientMotherBirthName",
    0x00101080: "MilitaryRank",
    0x00101090: "MedicalRecordLocator",
    0x00102154: "PatientTelephoneNumbers",
    0x00102160: "EthnicGroup",
    0x001021F0: "PatientReligiousPreference",
})
#: the keywords of :data:`PHI_TAGS`
PHI_KEYWORDS: frozenset[str] = frozenset(PHI_TAGS.values())
_PHI_TAG_SET = frozenset(PHI_TAGS)


def phi_tags() -> frozenset[int]:
    """The tags of :data:`PHI_TAGS` as a set."""
    return _PHI_TAG_SET


#: file name of the generated site secret in the user data directory
SECRET_FILE_NAME = "phi-secret"
_MIN_SECRET = 16
_secrets: dict[str, bytes] = {}
_secrets_by_env: dict[tuple[str | None, str | None], bytes] = {}


def secret_path() -> Path:
    """Where the generated site secret lives: ``phi-secret`` in the user data directory.

    The same directory as the store and the ledger key (platformdirs ``user_data_dir("radguard")``,
    i.e. ``$XDG_DATA_HOME/radguard`` on Linux).
    """
    from platformdirs import user_data_dir

    return Path(user_data_dir("radguard", appauthor=False)) / SECRET_FILE_NAME


def secret_source() -> str:
    """Where :func:`site_secret` takes the key from: ``"environment"`` or the secret file's path."""
    return "environment" if os.environ.get("RADGUARD_PHI_SECRET") else str(secret_path())


def site_secret() -> bytes:
    """The site secret that keys every hash of identifying data.

    ``RADGUARD_PHI_SECRET`` if set; else the secret file (:func:`secret_path`), generated on first
    use (32 random bytes, hex, mode 0600, created with ``O_EXCL`` and never through a symlink) with
    a warning on stderr. There is no built-in fallback key: a public key would let anyone reverse
    the hashed Patient IDs with a dictionary (issue 16 item 1). The gateway's ``[audit] secret_file``
    is passed explicitly as ``secret=`` and wins over both.
    """
    return _site_secret()


def _site_secret() -> bytes:
    secret = os.environ.get("RADGUARD_PHI_SECRET")
    if secret:
        return secret.encode()
    # keyed on what decides the path (no platformdirs call per object: seal hashes with it for every file)
    env = (os.environ.get("XDG_DATA_HOME"), os.environ.get("HOME"))
    cached = _secrets_by_env.get(env)
    if cached is None:
        path = secret_path()
        key = str(path)
        cached = _secrets.get(key)
        if cached is None:
            cached = _secrets[key] = load_or_create_secret(path)
        _secrets_by_env[env] = cached
    return cached


def _read_secret(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RadguardError(f"PHI secret {path} is not a regular file")
        if st.st_mode & 0o077:
            raise RadguardError(f"PHI secret {path} is readable by others (mode {st.st_mode & 0o777:o}); "
                                f"run: chmod 600 {path}")
        data = os.read(fd, 4096).strip()
    finally:
        os.close(fd)
    if len(data) < _MIN_SECRET:
        raise RadguardError(f"PHI secret {path} is shorter than {_MIN_SECRET} bytes")
    return data


def _write_new_secret(path: Path, *, replace: bool = False) -> bytes:
    """Write a fresh secret beside ``path`` (0600, ``O_EXCL | O_NOFOLLOW``) and link or rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = secrets.token_hex(32).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.write(fd, data + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            os.replace(tmp, path)  # a symlink at ``path`` is replaced, not followed
        else:
            os.link(tmp, path)  # atomic and exclusive: fails if anything (even a symlink) is there
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return data


def load_or_create_secret(path: Path) -> bytes:
    """Read the site secret at ``path``; create it first if it does not exist (warning on stderr).

    Two processes that start at once get the same secret: the file appears complete or not at all
    (written aside, then hard-linked into place, which fails if another process was first).
    """
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise RadguardError(f"cannot read the PHI secret {path}: {exc.strerror or exc}") from None
    try:
        data = _write_new_secret(path)
    except FileExistsError:  # another process was first
        return _read_secret(path)
    except OSError as exc:
        raise RadguardError(f"cannot create the PHI secret {path}: {exc.strerror or exc} "
                            "(set RADGUARD_PHI_SECRET)") from None
    _warn(f"radguard: warning: created a new site secret for hashing patient identifiers: {path} "
          "(mode 0600; back it up, hashes made with another secret will not match)")
    return data


def rotate_secret(path: Path | None = None) -> Path:
    """Replace the secret file by a new random one (hashes made before no longer link to new ones)."""
    target = path or secret_path()
    _write_new_secret(target, replace=True)
    _secrets.pop(str(target), None)
    _secrets_by_env.clear()
    return target


def _warn(message: str) -> None:
    import logging

    logging.getLogger("radguard.phi").warning(message)
    if not logging.getLogger().handlers:  # nothing configured: the log would not reach the operator
        print(message, file=sys.stderr)


def phi_hash(value: str | bytes, *, secret: bytes | None = None) -> str:
    """Keyed hash (HMAC-SHA-256, first 16 hex chars) of an identifying value.

    The key is the site secret (:func:`site_secret`, or ``secret``) so that hashes cannot be
    reversed by a dictionary of common names without it.
    """
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    # hmac.digest: the one-shot form of hmac.new(...).digest() (same bytes), several times faster
    return "hmac:" + hmac.digest(secret or _site_secret(), data, "sha256")[:8].hex()


def redact(value: object) -> str:
    """Replace a value by a marker that tells only its length."""
    return f"<redacted:{len(str(value))}>"
