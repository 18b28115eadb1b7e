"""Issue 16 item 1: the keyed hash of patient identifiers never falls back to a public constant.

Without ``RADGUARD_PHI_SECRET`` a site secret is generated on first use into the user data directory
(mode 0600, ``O_EXCL``, never through a symlink) and read thereafter; the env var and the gateway's
``[audit] secret_file`` still override. (conftest.py points ``XDG_DATA_HOME`` at a temporary folder.)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from radguard import phi
from radguard.cli.main import main
from radguard.errors import RadguardError

SRC = Path(__file__).resolve().parents[2] / "src"
OLD_CONSTANT = b"radguard-default-phi-" + b"key"  # split: this file must not be what the grep below finds


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("RADGUARD_PHI_SECRET", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "radguard"


def test_no_constant_key_anywhere_in_src() -> None:
    hits = [p for p in SRC.rglob("*") if p.is_file() and p.suffix in {".py", ".c", ".toml", ".json", ".md"}
            and OLD_CONSTANT in p.read_bytes()]
    assert hits == []


def test_secret_generated_once_0600_with_warning(data_dir: Path, capsys: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    h1 = phi.phi_hash("PAT-001")
    path = data_dir / "phi-secret"
    assert path.is_file() and not path.is_symlink()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "created a new site secret" in capsys.readouterr().err + caplog.text  # stderr, or the log if configured
    caplog.clear()
    secret = path.read_bytes().strip()
    assert len(secret) >= 32
    assert h1 == "hmac:" + hmac.new(secret, b"PAT-001", hashlib.sha256).hexdigest()[:16]
    assert h1 != "hmac:" + hmac.new(OLD_CONSTANT, b"PAT-001", hashlib.sha256).hexdigest()[:16]
    phi._secrets.clear()  # a new process reads the file, no new warning
    assert phi.phi_hash("PAT-001") == h1
    assert "created" not in capsys.readouterr().err + caplog.text


def test_two_processes_share_the_secret(data_dir: Path) -> None:
    code = "from radguard.phi import phi_hash; print(phi_hash('PAT-001'))"
    env = {k: v for k, v in os.environ.items() if k != "RADGUARD_PHI_SECRET"}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    hashes = {out.strip() for out, _ in outs}
    assert len(hashes) == 1
    assert sum("created a new site secret" in err for _, err in outs) == 1  # exactly one process created it
    assert hashes.pop() == phi.phi_hash("PAT-001")


def test_env_and_explicit_secret_override(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADGUARD_PHI_SECRET", "e" * 32)
    assert phi.phi_hash("X") == "hmac:" + hmac.new(b"e" * 32, b"X", hashlib.sha256).hexdigest()[:16]
    assert phi.phi_hash("X", secret=b"f" * 32) == "hmac:" + hmac.new(b"f" * 32, b"X", hashlib.sha256).hexdigest()[:16]
    assert not (data_dir / "phi-secret").exists()  # the env var is used: nothing generated


def test_symlink_is_not_followed(data_dir: Path, tmp_path: Path) -> None:
    data_dir.mkdir(parents=True)
    target = tmp_path / "elsewhere"
    (data_dir / "phi-secret").symlink_to(target)
    with pytest.raises(RadguardError):
        phi.site_secret()
    assert not target.exists()


def test_world_readable_secret_refused(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    path = data_dir / "phi-secret"
    path.write_text("x" * 64)
    path.chmod(0o644)
    with pytest.raises(RadguardError, match="chmod 600"):
        phi.site_secret()


def test_secret_command(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["secret"]) == 0
    assert "not created yet" in capsys.readouterr().out
    assert main(["secret", "--init"]) == 0
    out = capsys.readouterr()
    assert str(data_dir / "phi-secret") in out.out and "0600" in out.out and "fingerprint" in out.out
    secret = (data_dir / "phi-secret").read_bytes()
    assert secret.strip().decode() not in out.out + out.err  # the key itself is never printed
    assert main(["secret", "--rotate"]) == 0
    assert (data_dir / "phi-secret").read_bytes() != secret
    assert stat.S_IMODE((data_dir / "phi-secret").stat().st_mode) == 0o600
    assert phi.site_secret() == (data_dir / "phi-secret").read_bytes().strip()


def test_phi_hash_is_hmac_sha256_first_16_hex() -> None:
    """The keyed hash's definition, whatever call computes it: HMAC-SHA-256, the first 16 hex characters."""
    for value in ("PAT-001", "Müller^Jörg", "", "x" * 300):
        expected = "hmac:" + hmac.new(b"k" * 32, value.encode(), hashlib.sha256).hexdigest()[:16]
        assert phi.phi_hash(value, secret=b"k" * 32) == expected
        assert phi.phi_hash(value.encode(), secret=b"k" * 32) == expected
