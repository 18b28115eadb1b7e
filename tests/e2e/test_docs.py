"""The README a user lands on: quick start and the CLI contract every command keeps (issue 3)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_quick_start_and_cli_contract() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for needle in ("make demo", "make test", "--json", "--fail-on", "--sarif", "RADGUARD_DB", "radguard.<kind>/1"):
        assert needle in text, needle

