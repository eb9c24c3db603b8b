"""Typst adapter: the document data and diagram SVGs in, PDF bytes out.

The template `case.typ`, `data.json` and the SVGs are written into a fresh temporary directory,
which is Typst's root, so the template can read nothing else. Only the fonts bundled in the
`typst` wheel are used (`ignore_system_fonts=True`), so the same data gives the same PDF on every
machine; directories named in SAFETYCASE_PDF_FONT_PATHS add fonts (for scripts the bundled ones
lack, such as Chinese, Japanese or emoji). The PDF's creation date is the data's own date.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import typst

logger = logging.getLogger(__name__)

TEMPLATE = Path(__file__).with_name("case.typ")
PDF_STANDARD_ARCHIVAL = "a-2b"
DIAGRAM_FONT = "DejaVu Sans"  # the font safetycase.diagrams lays out with
FALLBACK_DIAGRAM_FONT = "Libertinus Serif"  # bundled, and narrower: labels still fit
_PAGE_COUNT = re.compile(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.svg$")


class PdfError(Exception):
    """Typst could not compile the document."""


def render_pdf(
    document: Mapping[str, Any],
    svgs: Mapping[str, str],
    *,
    pdfa: bool = False,
    timestamp: datetime | None = None,
    font_paths: Sequence[str] = (),
) -> bytes:
    """Compile the case document (`document.build_document`) with its diagrams (file name →
    SVG text) to PDF; PDF/A-2b when `pdfa`."""
    families = available_families(tuple(font_paths))
    with tempfile.TemporaryDirectory(prefix="safetycase-pdf-") as tmp:
        root = Path(tmp)
        shutil.copyfile(TEMPLATE, root / "main.typ")
        (root / "data.json").write_text(
            json.dumps(document, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )
        for name, svg in svgs.items():
            if not _FILE_NAME.match(name):
                raise PdfError(f"Refusing diagram file name {name!r}.")
            (root / name).write_text(_diagram_font(svg, families), encoding="utf-8")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pdf, diagnostics = typst.compile_with_warnings(
                    str(root / "main.typ"),
                    root=str(root),
                    font_paths=list(font_paths),
                    ignore_system_fonts=True,
                    pdf_standards=[PDF_STANDARD_ARCHIVAL] if pdfa else [],
                    timestamp=timestamp,
                )
        except typst.TypstError as exc:
            raise PdfError(f"Typst could not compile the document: {exc.message}") from exc
        except RuntimeError as exc:
            raise PdfError(f"Typst could not compile the document: {exc}") from exc
    for diagnostic in diagnostics or ():
        logger.info("typst: %s", getattr(diagnostic, "message", diagnostic))
    return pdf


def page_count(pdf: bytes) -> int:
    """Pages of a PDF that Typst wrote (its page tree is not compressed)."""
    counts = [int(m.group(1)) for m in _PAGE_COUNT.finditer(pdf)]
    return max(counts, default=0)


@functools.lru_cache(maxsize=8)
def available_families(font_paths: tuple[str, ...]) -> frozenset[str]:
    fonts = typst.Fonts(
        include_system_fonts=False, include_embedded_fonts=True, font_paths=list(font_paths)
    )
    return frozenset(fonts.families())


def _diagram_font(svg: str, families: frozenset[str]) -> str:
    """Draw the diagram's text with a font Typst has: DejaVu Sans when a font path provides it,
    else a bundled one (the boxes were sized for DejaVu Sans, which is wider)."""
    if DIAGRAM_FONT in families:
        return svg
    return svg.replace(f'font-family="{DIAGRAM_FONT}', f'font-family="{FALLBACK_DIAGRAM_FONT}')
