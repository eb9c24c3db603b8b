"""DOT → SVG through our own adapter, so the renderer is one setting, not a code change.

`SAFETYCASE_DOT_RENDERER` (settings.SAFETYCASE["DOT_RENDERER"]) picks the program:
"graphviz-pure" (the `graphviz-pure` wheel's static binary, looked up next to the running
Python first, then on PATH), "dot" (a system Graphviz on PATH) or "auto" (graphviz-pure when
installed, else dot). Rendered SVG is cached by the hash of renderer + DOT source.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from safetycase.conf import setting

logger = logging.getLogger(__name__)

RENDER_TIMEOUT_SECONDS = 60
RENDERERS = ("auto", "graphviz-pure", "dot")
CACHE_PREFIX = "safetycase:diagram-svg:"
INSTALL_HINT = (
    "Install the pinned wheel with `pip install graphviz-pure==0.2.2` (it ships the "
    "`graphviz-pure` command), or install Graphviz so that `dot` is on PATH "
    "(e.g. `apt-get install graphviz`) and set SAFETYCASE_DOT_RENDERER=dot."
)


class DiagramError(Exception):
    """A diagram could not be rendered."""


class DiagramRendererUnavailable(DiagramError):
    """The configured renderer program is not installed."""


class DiagramRenderError(DiagramError):
    """The renderer ran and failed (invalid DOT, crash or timeout)."""


def render_svg(dot_source: str) -> str:
    """The DOT source rendered as an inline-able SVG element (no XML prolog or DOCTYPE)."""
    name, program = renderer()
    key = CACHE_PREFIX + hashlib.sha256(f"{name}\0{dot_source}".encode()).hexdigest()
    svg = cache.get(key)
    if svg is None:
        svg = _strip_prolog(_run(program, dot_source))
        cache.set(key, svg, timeout=setting("DIAGRAM_CACHE_SECONDS"))
    return svg


def renderer() -> tuple[str, str]:
    """(renderer name, path of its executable) as chosen by SAFETYCASE_DOT_RENDERER."""
    choice = setting("DOT_RENDERER")
    if choice not in RENDERERS:
        raise ImproperlyConfigured(
            f"SAFETYCASE_DOT_RENDERER is {choice!r}; expected one of: {', '.join(RENDERERS)}."
        )
    if choice in ("auto", "graphviz-pure"):
        program = graphviz_pure_executable()
        if program:
            return "graphviz-pure", program
        if choice == "graphviz-pure":
            raise DiagramRendererUnavailable(
                "SAFETYCASE_DOT_RENDERER is 'graphviz-pure' but the `graphviz-pure` command "
                f"was found neither next to {sys.executable} nor on PATH. {INSTALL_HINT}"
            )
    program = shutil.which("dot")
    if program:
        return "dot", program
    if choice == "dot":
        raise DiagramRendererUnavailable(
            "SAFETYCASE_DOT_RENDERER is 'dot' but no `dot` command is on PATH. "
            + INSTALL_HINT
            + " Or set SAFETYCASE_DOT_RENDERER=graphviz-pure (or auto)."
        )
    raise DiagramRendererUnavailable(
        "No diagram renderer found for SAFETYCASE_DOT_RENDERER='auto': neither the "
        f"`graphviz-pure` command nor `dot` is installed. {INSTALL_HINT}"
    )


def graphviz_pure_executable() -> str | None:
    """The `graphviz-pure` binary of this environment (the venv's bin/), else the one on PATH."""
    name = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    return shutil.which("graphviz-pure")


def _run(program: str, dot_source: str) -> str:
    try:
        completed = subprocess.run(
            [program, "-Tsvg"],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            timeout=RENDER_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DiagramRenderError(
            f"{program} did not finish rendering within {RENDER_TIMEOUT_SECONDS} s."
        ) from exc
    except OSError as exc:
        raise DiagramRendererUnavailable(f"Could not run {program}: {exc}. {INSTALL_HINT}") from exc
    stderr = completed.stderr.decode("utf-8", errors="replace").strip()
    if completed.returncode != 0:
        raise DiagramRenderError(
            f"{program} exited with status {completed.returncode}: {stderr[:2000] or '(no output)'}"
        )
    if stderr:
        logger.debug("%s warnings: %s", program, stderr[:2000])
    return completed.stdout.decode("utf-8")


def _strip_prolog(svg: str) -> str:
    """Drop the XML declaration, DOCTYPE and leading comments so the SVG can be inlined."""
    start = svg.find("<svg")
    if start < 0:
        raise DiagramRenderError("The renderer's output contains no <svg> element.")
    return svg[start:]
