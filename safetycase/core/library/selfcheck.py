"""The self-check run when the library loads: every template instantiated with its example
parameters and checked with the GSN rules."""

from __future__ import annotations

from safetycase.core.gsn.rules import check_argument
from safetycase.core.library.instantiate import InstantiationError, instantiate
from safetycase.core.library.types import Library


def check_template_examples(library: Library, problems: list[str]) -> None:
    for template in library.templates.values():
        try:
            instance = instantiate(library, template.id, template.example)
        except InstantiationError as exc:
            problems.append(f"{template.filename}: the example does not instantiate: {exc}")
            continue
        for finding in check_argument(instance.argument()):
            if finding.severity == "error":
                problems.append(
                    f"{template.filename}: the example instance breaks GSN rule {finding.rule}"
                    f" at {finding.node or 'the argument'}: {finding.message}"
                )
