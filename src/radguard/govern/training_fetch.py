"""Campaign results fetched from a GoPhish server's REST API: ``GET /api/campaigns/{id}/results``.

The API key goes in the ``Authorization`` header (``Bearer KEY``, which GoPhish's ``RequireAPIKey``
middleware accepts besides the ``api_key`` query parameter, kept out of URLs and logs here). GoPhish's
admin server uses a self-signed certificate by default: pass its CA or certificate file (``cafile``);
``insecure`` turns verification off for a lab. Errors (refused, TLS, 401 "Invalid API Key", not JSON) are
one-line :class:`~radguard.errors.UsageError`\\ s; the response is parsed by
:func:`radguard.govern.training_phish.parse_data` like a file.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from radguard.errors import UsageError
from radguard.govern.training_phish import Campaign, parse_data

#: largest response read (a results document of ~100 000 recipients)
MAX_BYTES = 64 * 1024 * 1024


def results_url(base: str, campaign: int) -> str:
    """``https://host:3333`` + campaign id -> the results endpoint; UsageError if ``base`` is not http(s)."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.username:
        raise UsageError(f"GoPhish URL {base!r}: expected http(s)://HOST[:PORT] (no credentials, no query)")
    return f"{base.rstrip('/')}/api/campaigns/{campaign}/results"


def fetch_campaign(base: str, campaign: int, api_key: str, *, name: str | None = None, cafile: Path | None = None,
                   insecure: bool = False, timeout: float = 30.0) -> Campaign:
    """Fetch and parse one campaign's results."""
    url = results_url(base, campaign)
    context: ssl.SSLContext | None = None
    if url.startswith("https:"):
        try:
            context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"--cafile {cafile}: {getattr(exc, 'strerror', None) or exc}") from None
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            data = resp.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise UsageError(f"{url}: HTTP {exc.code}: {_message(exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UsageError(f"{url}: cannot fetch: {reason}") from None
    if len(data) > MAX_BYTES:
        raise UsageError(f"{url}: response larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return parse_data(data, url, name, f"campaign {campaign}")


def _message(exc: urllib.error.HTTPError) -> str:
    """GoPhish's error JSON ``{"message": ..., "success": false}``, else the reason phrase."""
    try:
        doc = json.loads(exc.read(65536) or b"{}")
    except (ValueError, OSError):
        doc = {}
    return str(doc.get("message") or exc.reason) if isinstance(doc, dict) else str(exc.reason)
