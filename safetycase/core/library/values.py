"""Parameter values: coercion to a parameter's type, sample values for checking expressions, and
rendering values into statements (text), expressions (CEL literals) and data."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from safetycase.core.criteria import (
    cel_literal,
)
from safetycase.core.library.types import PLACEHOLDER, MissingField, Parameter, kind_of


def coerce_value(param: Parameter, value: Any, *, path: str | None = None) -> Any:
    """The value converted to the parameter's type; ValueError with a sentence otherwise."""
    what = path or param.name
    t = param.type
    if value is None:
        raise ValueError(f"{what} has no value.")
    if t == "string":
        if isinstance(value, dict | list | bool):
            raise ValueError(f"{what} must be text, not {kind_of(value)}.")
        return str(value)
    if t == "choice":
        value = str(value)
        if value not in param.choices:
            raise ValueError(f"{what} must be one of {', '.join(param.choices)}, not {value!r}.")
        return value
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "off", "0"):
            return False
        raise ValueError(f"{what} must be true or false, not {value!r}.")
    if t == "integer":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{what} must be a whole number, not {value!r}.")
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{what} must be a whole number, not {value!r}.") from None
    if t in ("number", "probability"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{what} must be a number, not {value!r}.")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{what} must be a number, not {value!r}.") from None
        if t == "probability" and not 0.0 <= number <= 1.0:
            raise ValueError(f"{what} must be a probability between 0 and 1, not {value!r}.")
        return number
    if t == "list":
        if not isinstance(value, list):
            raise ValueError(f"{what} must be a list, not {kind_of(value)}.")
        if len(value) < param.min_items:
            raise ValueError(
                f"{what} needs at least {param.min_items} item"
                f"{'s' if param.min_items != 1 else ''}, not {len(value)}."
            )
        if param.max_items is not None and len(value) > param.max_items:
            raise ValueError(f"{what} takes at most {param.max_items} items, not {len(value)}.")
        if not param.fields:
            return [coerce_value(Parameter(name=what, type="string"), v) for v in value]
        items = []
        for index, item in enumerate(value, start=1):
            if not isinstance(item, dict):
                raise ValueError(f"{what}[{index}] must be a mapping, not {kind_of(item)}.")
            names = {f.name for f in param.fields}
            unknown = [k for k in item if k not in names]
            if unknown:
                raise ValueError(
                    f"{what}[{index}] has unknown field {unknown[0]!r}; fields are "
                    f"{', '.join(names)}."
                )
            record = {}
            for f in param.fields:
                if f.name in item:
                    record[f.name] = coerce_value(f, item[f.name], path=f"{what}[{index}].{f.name}")
                elif not f.required:
                    record[f.name] = copy.deepcopy(f.default)
                else:
                    raise MissingField(f"{what}[{index}].{f.name}")
            items.append(record)
        return items
    raise ValueError(f"{what} has unknown type {t!r}.")  # pragma: no cover - parse refuses


def sample_value(param: Parameter) -> Any:
    """A value of the parameter's type, for checking expressions before instantiation."""
    if not param.required:
        return copy.deepcopy(param.default)
    return {
        "string": "example",
        "integer": 1,
        "number": 0.5,
        "probability": 0.5,
        "boolean": True,
        "choice": param.choices[0] if param.choices else "example",
        "list": [{f.name: sample_value(f) for f in param.fields} if param.fields else "example"]
        * max(param.min_items, 1),
    }[param.type]


# --------------------------------------------------------------------------------------------
# Rendering (shared with instantiation)


def text_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return text_value(next(iter(value.values()), ""))
    if isinstance(value, list):
        return "; ".join(text_value(v) for v in value)
    return str(value)


def _lookup(name: str, attribute: str | None, values: Mapping, item: Mapping) -> Any:
    if name in item:
        value = item[name]
        return value[attribute] if attribute else value
    return values[name]


def render_text(text: str, values: Mapping[str, Any], item: Mapping[str, Any] | None = None) -> str:
    """`text` with each placeholder that has a value replaced by the value as text."""
    return _render(text, values, item or {}, text_value)


def render_cel(text: str, values: Mapping[str, Any], item: Mapping[str, Any] | None = None) -> str:
    """A CEL expression with each placeholder that has a value replaced by a CEL literal."""
    return _render(text, values, item or {}, cel_literal)


def _render(
    text: str, values: Mapping[str, Any], item: Mapping[str, Any], written: Callable[[Any], str]
) -> str:
    return PLACEHOLDER.sub(
        lambda m: (
            written(_lookup(m.group(1), m.group(2), values, item))
            if m.group(1) in item or m.group(1) in values
            else m.group(0)
        ),
        text or "",
    )


def render_data(value: Any, values: Mapping[str, Any], item: Mapping[str, Any] | None = None):
    """Strings rendered as text, except a string that is one whole placeholder, which takes the
    parameter's value with its type (a number stays a number)."""
    item = item or {}
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole and (whole.group(1) in item or whole.group(1) in values):
            return copy.deepcopy(_lookup(whole.group(1), whole.group(2), values, item))
        return render_text(value, values, item)
    if isinstance(value, dict):
        return {k: render_data(v, values, item) for k, v in value.items()}
    if isinstance(value, list):
        return [render_data(v, values, item) for v in value]
    return value
