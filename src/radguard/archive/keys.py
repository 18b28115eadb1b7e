"""Ed25519 signing key of the ledger (RFC 8032), stored as PKCS#8 PEM with mode 0600.

Default location: ``<user data dir>/radguard/ledger-ed25519.pem`` (``RADGUARD_KEY`` overrides).
An optional passphrase comes from the environment variable named by ``--passphrase-env``
(default ``RADGUARD_KEY_PASSPHRASE``); radguard never prompts without a TTY.
"""

from __future__ import annotations

import os
from pathlib import Path

from radguard.errors import UsageError

KEY_ENV = "RADGUARD_KEY"
PASSPHRASE_ENV = "RADGUARD_KEY_PASSPHRASE"
LEDGER_CONTEXT = b"radguard-ledger/1\n"
#: signature scope of the record a seal writes when it starts on a root (key: the root's path; root hash
#: and count: those of the root's latest signature, the state the seal starts from)
BEGIN = "begin"
#: DER of an unencrypted PKCS#8 Ed25519 private key (RFC 8410 §7) before its 32 key bytes
_PKCS8_ED25519 = bytes.fromhex("302e020100300506032b657004220420")


def signed_message(scope: str, key: str, root: str, count: int) -> bytes:
    """What a ledger signature signs (docs/archive.md "Ledger format")."""
    return f"{scope}\n{key}\n{root}\n{count}".encode()


def default_key_path() -> Path:
    env = os.environ.get(KEY_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("radguard", appauthor=False)) / "ledger-ed25519.pem"


def _passphrase(env_name: str) -> bytes | None:
    value = os.environ.get(env_name)
    return value.encode() if value else None


def generate(path: Path, *, passphrase_env: str = PASSPHRASE_ENV, force: bool = False) -> str:
    """Write a new private key to ``path`` (0600) and its public key to ``path.pub``; return the public hex."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if path.exists() and not force:
        raise UsageError(f"key {path} already exists (use --force to replace it)")
    key = Ed25519PrivateKey.generate()
    secret = _passphrase(passphrase_env)
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    pub = public_hex(key)
    path.with_name(path.name + ".pub").write_text(pub + "\n", encoding="ascii")
    return pub


def public_hex(key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    assert isinstance(key, Ed25519PrivateKey)
    return key.public_key().public_bytes_raw().hex()


def _plain_pkcs8(pem: bytes) -> bytes | None:
    """The 32 key bytes of an unencrypted PKCS#8 Ed25519 PEM as ``keygen`` writes it, else None (then
    cryptography's PEM loader, about 0.05 s to import, reads it)."""
    import base64
    import binascii

    lines = pem.strip().splitlines()
    if len(lines) < 3 or lines[0] != b"-----BEGIN PRIVATE KEY-----" or lines[-1] != b"-----END PRIVATE KEY-----":
        return None
    try:
        der = base64.b64decode(b"".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(der) != len(_PKCS8_ED25519) + 32 or not der.startswith(_PKCS8_ED25519):
        return None
    return der[len(_PKCS8_ED25519):]


def load(path: Path, *, passphrase_env: str = PASSPHRASE_ENV) -> object:
    """Load the private key; a missing key is a usage error naming ``radguard keygen``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not path.exists():
        raise UsageError(f"no signing key at {path}: create one with `radguard keygen` (or set {KEY_ENV})")
    try:
        pem = path.read_bytes()
        raw = _plain_pkcs8(pem) if _passphrase(passphrase_env) is None else None
        if raw is not None:
            key: object = Ed25519PrivateKey.from_private_bytes(raw)
        else:
            from cryptography.hazmat.primitives import serialization

            key = serialization.load_pem_private_key(pem, password=_passphrase(passphrase_env))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"cannot load signing key {path}: {exc} (passphrase in ${passphrase_env}?)") from None
    except OSError as exc:
        raise UsageError(f"cannot read signing key {path}: {exc.strerror}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path} is not an Ed25519 key")
    return key


def sign(key: object, message: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    assert isinstance(key, Ed25519PrivateKey)
    return key.sign(LEDGER_CONTEXT + message).hex()


def verify(public: str, message: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public)).verify(bytes.fromhex(signature),
                                                                         LEDGER_CONTEXT + message)
    except (InvalidSignature, ValueError):
        return False
    return True


def trusted_public(path: Path) -> str | None:
    """The public key audit trusts: ``path`` itself if it is a ``.pub`` file, else the ``.pub`` next to it."""
    pub = path if path.name.endswith(".pub") else path.with_name(path.name + ".pub")
    try:
        return pub.read_text(encoding="ascii").strip() or None
    except OSError:
        return None
