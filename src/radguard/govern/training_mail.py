"""Training reminders sent by e-mail (45 CFR 164.308(a)(5)(ii)(A) security reminders), only when the site names
an SMTP server: ``radguard train due --smtp HOST:PORT``. RFC 5321 submission through :mod:`smtplib`; STARTTLS
(RFC 3207) when asked, and always before credentials (``RADGUARD_SMTP_USER`` / ``RADGUARD_SMTP_PASSWORD``, read
from the environment, never from the command line). A refused recipient is a per-person result, not a failure
of the whole run; a server that cannot be reached is.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from radguard.errors import UsageError
from radguard.govern.training_status import Reminder
from radguard.hostport import parse_host_port


@dataclass(frozen=True, slots=True)
class Sent:
    """What became of one reminder."""

    person: str
    to: str
    sent: bool
    error: str = ""


#: seconds to wait for the SMTP server (connect, each reply)
TIMEOUT = 20.0


def parse_server(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (port 25, 587 or any) -> (host, port); a clear error otherwise."""
    address = parse_host_port(text)
    if address is None:
        raise UsageError(f"--smtp {text!r}: expected HOST:PORT")
    return address


def send_reminders(reminders: Sequence[Reminder], server: str, sender: str, *, starttls: bool = False,
                   env: Mapping[str, str] | None = None) -> list[Sent]:
    """Send each reminder in one SMTP session; returns one :class:`Sent` per reminder."""
    host, port = parse_server(server)
    env = env or {}
    user, password = env.get("RADGUARD_SMTP_USER"), env.get("RADGUARD_SMTP_PASSWORD")
    out: list[Sent] = []
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
            if starttls:
                smtp.starttls(context=ssl.create_default_context())
            if user:
                if not starttls:
                    raise UsageError("RADGUARD_SMTP_USER is set: credentials are only sent after --smtp-starttls")
                smtp.login(user, password or "")
            for r in reminders:
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = sender, r.to, r.subject
                msg["Date"], msg["Message-ID"] = formatdate(localtime=True), make_msgid(domain="radguard")
                msg.set_content(r.body)
                try:
                    smtp.send_message(msg)
                    out.append(Sent(person=r.person, to=r.to, sent=True))
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                    out.append(Sent(person=r.person, to=r.to, sent=False, error=_why(exc)))
    except (OSError, smtplib.SMTPException) as exc:
        if out:  # the server went away mid-run: what was sent stays sent, the rest is reported
            done = {s.person for s in out}
            out += [Sent(person=r.person, to=r.to, sent=False, error=f"not sent: {_why(exc)}")
                    for r in reminders if r.person not in done]
            return out
        raise UsageError(f"--smtp {server}: {_why(exc)}") from None
    return out


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                 for code, msg in exc.recipients.values()]
        return "recipient refused: " + "; ".join(codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, (ConnectionRefusedError, socket.timeout, socket.gaierror)):
        return f"cannot reach the SMTP server ({exc.strerror or exc})" if isinstance(exc, OSError) else str(exc)
    return str(exc) or type(exc).__name__
