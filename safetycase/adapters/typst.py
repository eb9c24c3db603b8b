"""Typst adapter: the document data and diagram SVGs in, PDF bytes out.

The template `case.typ`, `data.json` and the SVGs are written into a fresh temporary directory,
which is Typst's root, so the template can read nothing else. Fonts are the ones bundled in the
`typst` wheel plus those in the directories named by SAFETYCASE_PDF_FONT_PATHS (by default the
Debian font directories of Noto CJK, Noto Color Emoji and DejaVu that exist), never whatever
else the system has (`ignore_system_fonts=True`): the same data and the same font packages give
the same PDF. The template's font list decides which font each script falls back to. The PDF's
creation date is the data's own date.
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

# The template lives with the document it typesets.
TEMPLATE = Path(__file__).parent.parent / "export" / "case.typ"
PDF_STANDARD_ARCHIVAL = "a-2b"
DIAGRAM_FONT = "DejaVu Sans"  # the font safetycase.core.diagrams lays out with
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
        message = str(getattr(diagnostic, "message", diagnostic))
        # The template names fallback fonts that only some machines have: expected, not news.
        level = logging.DEBUG if message.startswith("unknown font family") else logging.INFO
        logger.log(level, "typst: %s", message)
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
    svg = _name_fallback_fonts(svg, families)
    if DIAGRAM_FONT in families:
        return svg
    return svg.replace(f'font-family="{DIAGRAM_FONT}', f'font-family="{FALLBACK_DIAGRAM_FONT}')


# Typst's SVG text renderer finds no fallback font for a line that mixes right-to-left text
# (Arabic, Hebrew) with CJK or emoji: those print as boxes, and PDF/A refuses the document. In
# such lines the CJK and emoji runs name their font themselves.
_RTL = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_SCRIPT_RUNS = (
    (
        "Noto Sans CJK JP",
        re.compile(
            r"[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff"
            r"\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]+"
        ),
    ),
    (
        "Noto Color Emoji",
        re.compile(
            r"[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u231a\u231b\u23e9-\u23fa"
            r"\U000e0020-\U000e007f][\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff"
            r"\ufe0f\u200d\U000e0020-\U000e007f]*"
        ),
    ),
)
_TEXT = re.compile(r"(<text\b[^>]*>)([^<]*)(</text>)")


def _name_fallback_fonts(svg: str, families: frozenset[str]) -> str:
    runs = [(family, pattern) for family, pattern in _SCRIPT_RUNS if family in families]
    if not runs or not _RTL.search(svg):
        return svg

    def line(match: re.Match[str]) -> str:
        opening, text, closing = match.groups()
        if not _RTL.search(text):
            return match.group(0)
        for family, pattern in runs:
            text = pattern.sub(
                lambda run, family=family: f'<tspan font-family="{family}">{run.group(0)}</tspan>',
                text,
            )
        return opening + text + closing

    return _TEXT.sub(line, svg)
