"""Training reminders e-mailed through a real SMTP server on loopback (aiosmtpd), only when one is configured;
a refused recipient is a per-person result; an unreachable server is a one-line error; no STARTTLS, no login."""

from __future__ import annotations

import email
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.e2e.cli import json_doc, radguard, usage_error
from tests.support.peers import free_port

ROSTER = ("id,name,role,department,email\n"
          "ct-01,Ann Tech,technologist,CT,ann@example.org\n"
          "rd-01,Bob Rad,radiologist,Reading,bob@refused.example\n")


class Inbox:
    """Accepts mail for any recipient except at refused.example (550), like a real relay's policy."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.endswith("@refused.example"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content or b""))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_reminders_are_mailed_only_through_the_configured_server(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    json_doc(radguard(["train", "roster", "import", str(roster), "--json"]), "train-roster-import")
    plain = json_doc(radguard(["train", "due", "--json"]), "train-due", rc=1)
    assert plain["mailed"] == [] and not inbox.messages  # no server configured: nothing sent
    doc: dict[str, Any] = json_doc(radguard(["train", "due", "--smtp", f"127.0.0.1:{port}", "--smtp-from",
                                             "security@example.org", "--json"]), "train-due", rc=1)
    by = {m["person"]: m for m in doc["mailed"]}
    assert by["ct-01"]["sent"] is True and by["rd-01"]["sent"] is False and "550" in by["rd-01"]["error"]
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert msg["To"] == "ann@example.org" and msg["From"] == "security@example.org"
    assert msg["Subject"].startswith("Security awareness training due")
    body = msg.get_payload(decode=True).decode()
    assert "radguard train take ct-01 --lesson" in body and "phishing" in body


def test_unreachable_server_and_credentials_without_starttls_are_clear_errors(tmp_path: Path,
                                                                               smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    json_doc(radguard(["train", "roster", "import", str(roster), "--json"]), "train-roster-import")
    closed = f"127.0.0.1:{free_port()}"
    assert "cannot reach the SMTP server" in usage_error(radguard(["train", "due", "--smtp", closed]))
    assert "expected HOST:PORT" in usage_error(radguard(["train", "due", "--smtp", "mail.example.org"]))
    line = usage_error(radguard(["train", "due", "--smtp", f"127.0.0.1:{port}"],
                                env={"RADGUARD_SMTP_USER": "u", "RADGUARD_SMTP_PASSWORD": "secret"}))
    assert "only sent after --smtp-starttls" in line and "secret" not in line
    assert not inbox.messages
