"""``radguard web``: the console, a FastAPI app over the store and the same core as the CLI.

Pages render through the one Jinja2 environment of :mod:`radguard.report.render` (templates in
``report/templates/web/``, extending ``base.html.j2``); every page has a JSON twin under ``/api``
(OpenAPI at ``/api/openapi.json``). The console is itself an attack surface and is built like one:
see :mod:`radguard.web.security` and docs/web.md.
"""
