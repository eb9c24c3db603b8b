"""The renderer adapter: real graphviz-pure renders, the cache, renderer choice and errors."""

from __future__ import annotations

import stat
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from safetycase.adapters import graphviz as rendering
from safetycase.adapters.graphviz import DiagramRenderError, DiagramRendererUnavailable, render_svg

SVG = "{http://www.w3.org/2000/svg}"
DOT = 'digraph g { G1 [shape=box label="Top goal"]; S1 [shape=parallelogram]; G1 -> S1 }'


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def renderer_setting(settings):
    def use(value: str) -> None:
        settings.SAFETYCASE = {**settings.SAFETYCASE, "DOT_RENDERER": value}

    return use


@pytest.fixture
def subprocess_calls(monkeypatch):
    """Counts renderer runs by wrapping the real subprocess.run (which still does the work)."""
    calls = []
    real_run = subprocess.run

    def counting_run(*args, **kwargs):
        calls.append(args[0])
        return real_run(*args, **kwargs)

    monkeypatch.setattr(rendering.subprocess, "run", counting_run)
    return calls


def node_titles(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "node"]


def test_it_renders_inline_svg_with_node_titles():
    svg = render_svg(DOT)

    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    assert sorted(node_titles(svg)) == ["G1", "S1"]
    assert svg.count('class="edge"') == 1


def test_auto_prefers_the_graphviz_pure_next_to_python(renderer_setting):
    renderer_setting("auto")
    name, program = rendering.renderer()
    assert name == "graphviz-pure"
    assert program == rendering.graphviz_pure_executable()


def test_a_cache_hit_does_not_run_the_renderer_again(subprocess_calls):
    first = render_svg(DOT)
    second = render_svg(DOT)

    assert second == first
    assert len(subprocess_calls) == 1
    render_svg(DOT.replace("Top goal", "Another goal"))
    assert len(subprocess_calls) == 2


def test_rendered_svg_is_cached_for_the_configured_time(settings, monkeypatch):
    settings.SAFETYCASE = {**settings.SAFETYCASE, "DIAGRAM_CACHE_SECONDS": 123}
    timeouts = []
    real_set = cache.set

    def recording_set(key, value, timeout=None, **kwargs):
        timeouts.append(timeout)
        return real_set(key, value, timeout=timeout, **kwargs)

    monkeypatch.setattr(cache, "set", recording_set)
    render_svg(DOT)
    assert timeouts == [123]


def test_dot_setting_without_dot_on_path_is_a_clear_error(renderer_setting, monkeypatch, tmp_path):
    renderer_setting("dot")
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(DiagramRendererUnavailable) as excinfo:
        render_svg(DOT)
    message = str(excinfo.value)
    assert "SAFETYCASE_DOT_RENDERER is 'dot' but no `dot` command is on PATH." in message
    assert "pip install graphviz-pure==0.2.2" in message


def test_graphviz_pure_setting_without_the_binary_is_a_clear_error(
    renderer_setting, monkeypatch, tmp_path
):
    renderer_setting("graphviz-pure")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(DiagramRendererUnavailable, match="SAFETYCASE_DOT_RENDERER"):
        render_svg(DOT)


def test_auto_falls_back_to_dot_and_then_explains(renderer_setting, monkeypatch, tmp_path):
    renderer_setting("auto")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(DiagramRendererUnavailable, match="SAFETYCASE_DOT_RENDERER='auto'"):
        rendering.renderer()

    dot = tmp_path / "dot"
    dot.write_text("#!/bin/sh\nexit 1\n")
    dot.chmod(dot.stat().st_mode | stat.S_IXUSR)
    assert rendering.renderer() == ("dot", str(dot))


def test_an_unknown_renderer_setting_is_refused(renderer_setting):
    renderer_setting("wasm")
    with pytest.raises(ImproperlyConfigured, match="SAFETYCASE_DOT_RENDERER"):
        render_svg(DOT)


def test_invalid_dot_is_a_render_error_with_graphvizs_message(subprocess_calls):
    with pytest.raises(DiagramRenderError, match="syntax error"):
        render_svg("digraph { a -> }")
    with pytest.raises(DiagramRenderError):  # failures are not cached
        render_svg("digraph { a -> }")
    assert len(subprocess_calls) == 2


def test_a_render_that_runs_too_long_is_stopped(monkeypatch):
    monkeypatch.setattr(rendering, "RENDER_TIMEOUT_SECONDS", 0.001)
    big = "digraph g {" + " ".join(f"n{i} -> n{i + 1};" for i in range(3000)) + "}"

    with pytest.raises(DiagramRenderError, match="did not finish"):
        render_svg(big)
