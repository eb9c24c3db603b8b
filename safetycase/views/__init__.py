"""Web pages, one module per area; each view parses the request, calls one service or
selectors, and renders."""
