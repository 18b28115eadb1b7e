"""The one rendering layer: Jinja2 templates to HTML, WeasyPrint HTML to PDF.

Every face of radguard renders through here: ``radguard report``, the governance report and the
console's pages share :func:`environment`, its filters and the base template
(``templates/base.html.j2``, print styles included). Templates autoescape everything.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from radguard import __version__
from radguard.errors import RadguardError


class RenderError(RadguardError):
    """A report could not be rendered or written."""


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _svg(value: str) -> Markup:
    """Mark a plot's SVG as safe: it comes from :mod:`radguard.report.plots`, never from a finding."""
    if not value.lstrip().startswith("<svg"):
        raise RenderError("only SVG made by radguard.report.plots can be inlined")
    return Markup(value)


@cache
def environment() -> jinja2.Environment:
    """The shared Jinja2 environment (package templates, autoescape on, strict undefined)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("radguard.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["svg"] = _svg
    env.globals["version"] = __version__
    return env


def render_html(template: str, context: Mapping[str, Any]) -> str:
    """Render one template of ``report/templates`` with ``context``."""
    try:
        return environment().get_template(template).render(**context)
    except jinja2.TemplateError as exc:  # a bug of ours, reported plainly
        raise RenderError(f"template {template}: {exc}") from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (no half-written report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store_label(url: object) -> str:
    """A store's URL as a page may show it: never its password."""
    render = getattr(url, "render_as_string", None)
    return str(render(hide_password=True)) if callable(render) else str(url)


def write_page(html: str, out_dir: Path, stem: str, *, pdf: bool) -> tuple[Path, Path | None]:
    """Write ``STEM.html`` and, with ``pdf``, ``STEM.pdf`` (WeasyPrint) into ``out_dir``; return both paths."""
    html_path = out_dir / f"{stem}.html"
    write_atomic(html_path, html.encode("utf-8"))
    if not pdf:
        return html_path, None
    pdf_path = out_dir / f"{stem}.pdf"
    write_atomic(pdf_path, html_to_pdf(html, base_url=str(out_dir)))
    return html_path, pdf_path


def html_to_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render HTML to PDF with WeasyPrint (imported on first use: it costs ~0.5 s)."""
    import weasyprint

    try:
        pdf = weasyprint.HTML(string=html, base_url=base_url).write_pdf()
    except Exception as exc:  # WeasyPrint raises many types; the user needs one line
        raise RenderError(f"PDF rendering failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(pdf, bytes):
        raise RenderError("PDF rendering produced no document")
    return pdf
