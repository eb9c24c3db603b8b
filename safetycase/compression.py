"""Response compression for SVG, JSON, scripts and styles; never for HTML pages."""

from __future__ import annotations

from django.middleware.gzip import GZipMiddleware

COMPRESSED_TYPES = (
    "image/svg+xml",
    "application/json",
    "application/problem+json",
    "application/vnd.oai.openapi+json",
    "text/css",
    "text/javascript",
    "application/javascript",
)


class CompressNonHtmlMiddleware(GZipMiddleware):
    """gzip for SVG, JSON, scripts and styles when the client accepts it (a 241 KB diagram
    travels as a few dozen KB). HTML pages are sent as they are: they carry a CSRF token and
    reflect what the user typed (?q=), the mix with which BREACH reads a secret from the
    sizes of compressed answers. JSON answers carry no CSRF token, and a secret they do carry
    (a new API token) is never beside text a third party can put there. Downloads (logs, PDFs)
    keep their bytes and length: most are compressed already."""

    def process_response(self, request, response):
        content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in COMPRESSED_TYPES:
            return response
        return super().process_response(request, response)
