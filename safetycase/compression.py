"""Response compression for everything but HTML pages."""

from __future__ import annotations

from django.middleware.gzip import GZipMiddleware


class CompressNonHtmlMiddleware(GZipMiddleware):
    """gzip for SVG, JSON, scripts and styles when the client accepts it (a 241 KB diagram
    travels as a few dozen KB). HTML pages are sent as they are: they carry a CSRF token and
    reflect what the user typed (?q=), the mix with which BREACH reads a secret from the
    sizes of compressed answers. JSON answers carry no CSRF token, and a secret they do carry
    (a new API token) is never beside text a third party can put there."""

    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)
