"""The operator console (`/console/`, `/console/stats`) and the demo app (`/demo/`).

Plain HTML + ES modules shipped inside the package (`static/`), no build step and nothing
fetched from another origin: the pages talk to the public REST and Socket.IO API like any app.
Every response of this blueprint carries a strict Content-Security-Policy (no inline script,
`connect-src 'self'`) and refuses framing; the token lives in the URL fragment and in
`sessionStorage`, so it never reaches a request line or a log.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC_DIR = Path(__file__).parent / "static"

# 'self' only: scripts are same-origin modules; images are signed attachment paths (and blob:
# previews of an image being pasted); style attributes set from script go through the CSSOM,
# which style-src does not restrict, so no 'unsafe-inline' is needed anywhere.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "connect-src 'self'; font-src 'self'; media-src 'self' data:; manifest-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

bp = Blueprint("web", __name__, static_folder=None)


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    # Pages change with every release and are tiny: always revalidate.
    response.headers["Cache-Control"] = "no-cache"
    return response


# Each page is the same shell: its script builds the DOM (every string from i18n.js).
_SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Support</title>
<link rel="stylesheet" href="/web/static/app.css">
{scripts}<script type="module" src="/web/static/{page}.js"></script>
</head>
<body class="page-{page}">
<div id="app"><noscript>This page needs JavaScript.</noscript></div>
</body>
</html>
"""


def _page(page: str, classic_scripts: tuple[str, ...] = ()) -> Response:
    scripts = "".join(f'<script src="/web/static/{src}" defer></script>\n' for src in classic_scripts)
    return Response(_SHELL.format(page=page, scripts=scripts), mimetype="text/html")


@bp.get("/console/")
def console() -> Response:
    return _page("console")


@bp.get("/console/stats")
def console_stats() -> Response:
    return _page("stats", ("vendor/chart.umd.min.js",))


@bp.get("/demo/")
def demo() -> Response:
    return _page("demo")


@bp.get("/web/static/<path:filename>")
def static(filename: str) -> Response:
    return send_from_directory(STATIC_DIR, filename)
