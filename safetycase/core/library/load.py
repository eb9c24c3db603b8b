"""The template file format: plain data types, the YAML loader and its validation.

Pure and Django-free. `load_library(directory)` reads every `*.yaml` file of the directory:
`sources.yaml` (the bibliography), `assumptions.yaml` (the assumption catalogue) and one file per
template. Everything is validated on load; all problems are collected and raised together as one
TemplateError whose lines name the file and the place ("harm_inability.yaml: node G3: ...").
The format itself is described in docs/templates/README.md.
The self-check of each template's example lives in `selfcheck`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from safetycase.core.library.parse import parse_catalogue, parse_sources, parse_template
from safetycase.core.library.selfcheck import check_template_examples
from safetycase.core.library.types import (
    CATALOGUE_FILE,
    LIBRARY_DIR,
    SOURCES_FILE,
    CatalogueAssumption,
    Library,
    Parameter,
    Source,
    Template,
    TemplateError,
)

# --------------------------------------------------------------------------------------------
# Loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key repeated in one mapping (a node defined twice)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice", mark
            )
        seen.add(key)
    return loader.construct_mapping_plain(node, deep=deep)


_UniqueKeyLoader.construct_mapping_plain = yaml.SafeLoader.construct_mapping
_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateError([f"{path.name}: not valid YAML{where}: {problem}."]) from exc


def load_library(directory: Path | str = LIBRARY_DIR, *, check_examples: bool = True) -> Library:
    """Read and validate the library in `directory`. With `check_examples`, every template is
    also instantiated with its example parameters and the result checked with the GSN rules."""
    directory = Path(directory)
    problems: list[str] = []
    sources: dict[str, Source] = {}
    catalogue: dict[str, CatalogueAssumption] = {}
    catalogue_params: tuple[Parameter, ...] = ()
    catalogue_meta: dict[str, str] = {}
    templates: dict[str, Template] = {}

    sources_path = directory / SOURCES_FILE
    if sources_path.exists():
        sources = parse_sources(_read(sources_path, problems), SOURCES_FILE, problems)
    else:
        problems.append(f"{SOURCES_FILE}: the library has no bibliography file.")
    catalogue_path = directory / CATALOGUE_FILE
    if catalogue_path.exists():
        catalogue, catalogue_params, catalogue_meta = parse_catalogue(
            _read(catalogue_path, problems), sources, problems
        )
    else:
        problems.append(f"{CATALOGUE_FILE}: the library has no assumption catalogue.")

    for path in sorted(directory.glob("*.yaml")):
        if path.name in (SOURCES_FILE, CATALOGUE_FILE):
            continue
        data = _read(path, problems)
        if data is None and problems and problems[-1].startswith(path.name):
            continue
        template = parse_template(data, path.name, sources, catalogue, catalogue_params, problems)
        if template is None:
            continue
        if template.id in templates:
            problems.append(
                f"{path.name}: template id {template.id!r} is already used by "
                f"{templates[template.id].filename}."
            )
            continue
        templates[template.id] = template

    library = Library(
        templates=templates,
        catalogue=catalogue,
        catalogue_parameters=catalogue_params,
        sources=sources,
        catalogue_title=catalogue_meta.get("title", "Assumption catalogue"),
        catalogue_summary=catalogue_meta.get("summary", ""),
    )
    _check_includes(library, problems)
    _check_used_by(library, problems)
    if problems:
        raise TemplateError(problems)
    if check_examples:
        check_template_examples(library, problems)
        if problems:
            raise TemplateError(problems)
    return library


def _read(path: Path, problems: list[str]) -> Any:
    try:
        return read_yaml(path)
    except TemplateError as exc:
        problems.extend(exc.problems)
        return None


def _check_includes(library: Library, problems: list[str]) -> None:
    for template in library.templates.values():
        for include in template.includes:
            if include.template not in library.templates:
                problems.append(
                    f"{template.filename}: include {include.template!r}: there is no such template."
                )
                continue
            child = library.templates[include.template]
            known = (
                {p.name for p in library.parameters(child.id)}
                if _acyclic(library, template.id)
                else set()
            )
            for name in include.parameters:
                if known and name not in known:
                    problems.append(
                        f"{template.filename}: include {include.template}: {child.id} has no "
                        f"parameter {name!r}."
                    )
        if not _acyclic(library, template.id):
            problems.append(f"{template.filename}: includes form a cycle through {template.id}.")


def _acyclic(library: Library, start: str) -> bool:
    stack, seen = [(start, (start,))], set()
    while stack:
        current, path = stack.pop()
        for include in library.templates[current].includes:
            if include.template not in library.templates:
                continue
            if include.template in path:
                return False
            if (include.template, path) not in seen:
                seen.add((include.template, path))
                stack.append((include.template, (*path, include.template)))
    return True


def _check_used_by(library: Library, problems: list[str]) -> None:
    for template in library.templates.values():
        for ref in template.catalogue_refs:
            entry = library.catalogue.get(ref)
            if entry and "all" not in entry.used_by and template.id not in entry.used_by:
                problems.append(
                    f"{CATALOGUE_FILE}: assumption {ref}: used_by does not list {template.id}, "
                    f"which uses it."
                )
    for assumption in library.catalogue.values():
        for user in assumption.used_by:
            if user != "all" and user not in library.templates:
                problems.append(
                    f"{CATALOGUE_FILE}: assumption {assumption.id}: used_by names {user!r}, "
                    "which is not a template."
                )
