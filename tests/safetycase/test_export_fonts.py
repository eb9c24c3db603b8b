"""Scripts the fonts bundled with Typst lack — Chinese, Japanese, Korean, Arabic, emoji — print
with real glyphs (not boxes) when the Debian font packages are installed: fonts-noto-cjk,
fonts-noto-color-emoji and fonts-dejavu-core, whose directories SAFETYCASE_PDF_FONT_PATHS names
by default.

The tests fail when CI is set and those fonts are missing (CI installs them); elsewhere they are
skipped. Which font drew a glyph is read from the PDF's font resources (pypdf), as `pdffonts`
lists them.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from safetycase import services
from safetycase.services import case_export_pdf
from tests.safetycase.test_export_pdf import pdf_text, reader, squeeze

pytestmark = pytest.mark.django_db

CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
ARABIC_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
STATEMENT = "安全性の主張 — 모델 안전 — 安全论证 · تقييم السلامة · alert 🚨"


@pytest.fixture(autouse=True)
def _debian_fonts():
    missing = [f for f in (CJK_FONT, EMOJI_FONT, ARABIC_FONT) if not os.path.exists(f)]
    if missing:
        reason = (
            f"{', '.join(missing)} missing (apt-get install fonts-noto-cjk "
            "fonts-noto-color-emoji fonts-dejavu-core)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must test the PDF fonts.", pytrace=False)
        pytest.skip(reason)


def fonts(content: bytes) -> list[tuple[str, str]]:
    """(subtype, base font name without its subset prefix) of every font the PDF uses."""
    found = set()
    for page in reader(content).pages:
        for font in ((page.get("/Resources") or {}).get("/Font") or {}).values():
            font = font.get_object()
            name = str(font.get("/BaseFont", "")).lstrip("/")
            found.add((str(font.get("/Subtype")), name.split("+", 1)[-1]))
    return sorted(found)


@pytest.fixture
def hostile_case(author):
    case = services.case_create(
        name="多言語 case 🚨", model_name="model", deployment="مرحبا", owner=author
    )
    services.node_create_do(case=case, identifier="G1", type="goal", statement=STATEMENT)
    services.node_create_do(case=case, identifier="C1", type="context", statement="文脈 🚀✅")
    services.link_create_do(case=case, source="G1", target="C1", type="in_context_of")
    return case


def test_the_debian_font_directories_are_the_default():
    paths = settings.SAFETYCASE["PDF_FONT_PATHS"]
    assert os.path.dirname(CJK_FONT) in paths
    assert os.path.dirname(EMOJI_FONT) in paths
    assert os.path.dirname(ARABIC_FONT) in paths


def test_cjk_arabic_and_emoji_are_drawn_with_fonts_that_have_them(hostile_case):
    result = case_export_pdf(case=hostile_case)
    text = pdf_text(result.content)
    assert "安全性の主張" in text
    assert "모델 안전" in text and "安全论证" in text
    assert "多言語 case" in text
    used = fonts(result.content)
    names = [name for _subtype, name in used]
    assert any("CJK" in name for name in names), used
    assert any(name.startswith("DejaVuSans") and "Mono" not in name for name in names), used
    # Colour emoji are bitmaps: Typst writes them as a Type 3 font (pdffonts: "Type 3").
    assert any(subtype == "/Type3" for subtype, _name in used), used
    assert squeeze("alert 🚨") in squeeze(text)


def test_with_the_bundled_fonts_only_the_same_text_has_no_such_fonts(hostile_case, settings):
    """The contrast that shows the fonts above come from the font directories: without them the
    document still compiles, but CJK and emoji have no font (they print as boxes)."""
    settings.SAFETYCASE = {**settings.SAFETYCASE, "PDF_FONT_PATHS": []}
    result = case_export_pdf(case=hostile_case)
    used = fonts(result.content)
    assert not any("CJK" in name for _subtype, name in used), used
    assert not any(subtype == "/Type3" for subtype, _name in used), used
    assert "G1" in pdf_text(result.content)


def test_no_glyph_is_missing_anywhere_not_even_in_the_diagrams(hostile_case):
    """PDF/A-2b refuses text that its font cannot display, so the archival export compiling is
    the proof that every glyph — also in diagram lines that mix Arabic with CJK and emoji, where
    Typst's SVG renderer needs the fonts named — has a font."""
    result = case_export_pdf(case=hostile_case, pdfa=True)
    assert "安全性の主張" in pdf_text(result.content)


def test_without_the_fonts_the_archival_export_refuses_rather_than_printing_boxes(
    hostile_case, settings
):
    from safetycase.adapters.typst import PdfError

    settings.SAFETYCASE = {**settings.SAFETYCASE, "PDF_FONT_PATHS": []}
    with pytest.raises(PdfError, match="could not be displayed"):
        case_export_pdf(case=hostile_case, pdfa=True)
