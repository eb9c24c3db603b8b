"""A criterion or check in plain language, read from the shape of its CEL expression (pure).

`describe(expression, kind=...)` gives the sentence a reader sees beside the CEL ("Met when
no sample shows the behaviour (k = 0) and the one-sided 95% Clopper–Pearson upper bound of the
rate is at most 0.05.") and, when the expression bounds a rate, the bound it uses, the
confidence level and the threshold (`Shape`), which the PDF draws as an interval chart.

The wording follows the expression's structure: `||` and `&&` at the top level become "or" and
"and", each comparison becomes "<term> is at most <value>", and the known run variables and
statistical functions (safetycase.core.criteria) are named in words. A part it does not know is
quoted as written, so the sentence never says more than the expression does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from safetycase.core.assessment.joint import constant_confidences

__all__ = ["Shape", "Wording", "describe"]

_COMPARISONS = ("<=", ">=", "==", "!=", "<", ">")
_OPERATOR_WORDS = {
    "<=": "is at most",
    ">=": "is at least",
    "==": "is",
    "!=": "is not",
    "<": "is below",
    ">": "is above",
}
# Read right to left ("0.05 >= cp_upper(...)" is "cp_upper(...) <= 0.05").
_MIRRORED = {"<=": ">=", ">=": "<=", "<": ">", ">": "<", "==": "==", "!=": "!="}
_VARIABLES = {
    "k": "the number of samples showing the behaviour (k)",
    "n": "the number of scored samples (n)",
    "rate": "the observed rate k/n",
    "age_days": "the run's age in days",
    "errors": "the number of samples that ended in an error",
    "model": "the evaluated model",
    "task": "the evaluated task",
    # Paired runs (core/assessment/paired.py): condition a is the run the selector picks.
    "paired.diff": "the accuracy gap on the same samples (this run minus the paired run)",
    "paired.upper": (
        "the upper end of the 95% interval of the accuracy gap on the same samples (this run "
        "minus the paired run)"
    ),
    "paired.lower": (
        "the lower end of the 95% interval of the accuracy gap on the same samples (this run "
        "minus the paired run)"
    ),
    "paired.p_value": "the two-sided exact McNemar p-value of the paired samples",
    "paired.p_greater": "the one-sided exact McNemar p-value that this run does better",
    "paired.acc_a": "this run's accuracy on the paired samples",
    "paired.acc_b": "the paired run's accuracy on the same samples",
    "paired.unscored": "the number of paired samples left unscored",
}
_BOUNDS = {
    "cp_upper": "one-sided {level} Clopper–Pearson upper bound of the rate",
    "cp_lower": "one-sided {level} Clopper–Pearson lower bound of the rate",
    "cs_upper": "{level} confidence-sequence upper bound of the rate (valid at every look)",
    "wilson_upper": "{level} Wilson upper bound of the rate",
    "wilson_lower": "{level} Wilson lower bound of the rate",
}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$", re.S)
_METHOD = re.compile(r"^(.+?)\.(all|exists|exists_one)\(([A-Za-z_]\w*),(.*)\)$", re.S)


@dataclass(frozen=True)
class Shape:
    """What a rate-bounding expression compares: `bound` (cp_upper, wilson_upper, ... or
    'rate'), its confidence `level` (None for the observed rate), the `threshold` and the
    comparison (`<=`, `>=`, ...)."""

    bound: str
    level: float | None
    threshold: float
    comparison: str


@dataclass(frozen=True)
class Wording:
    sentence: str
    shape: Shape | None


def describe(expression: str, *, kind: str = "criterion") -> Wording:
    """The plain-language sentence for a criterion (`kind="criterion"`: "Met when ...") or a
    check (`kind="check"`: "Holds when ..."), and the rate bound it uses, if any."""
    text = " ".join(str(expression or "").split())
    if "bonferroni" in text:
        # A corrected level reads as the number it stands for ("98.75%"), and the chart uses it.
        text = constant_confidences(text)
    lead = "Holds when" if kind == "check" else "Met when"
    if not text:
        return Wording(f"{lead} nothing: the expression is empty.", None)
    shapes: list[Shape] = []
    try:
        words = _any(text, shapes)
    except _Unreadable:
        words = "the expression in the appendix is true"
    sentence = f"{lead} {words}."
    return Wording(sentence, shapes[0] if shapes else None)


class _Unreadable(Exception):
    pass


def _split_top(text: str, operator: str) -> list[str]:
    """`text` split at `operator` outside brackets and string literals."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(operator, i):
            parts.append(text[start:i].strip())
            start = i + len(operator)
            i = start
            continue
        i += 1
    parts.append(text[start:].strip())
    return parts


def _strip_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and len(_split_top(text[1:-1], ")")) == 1:
        inner = text[1:-1]
        depth = 0
        balanced = True
        for char in inner:
            depth += char == "("
            depth -= char == ")"
            if depth < 0:
                balanced = False
                break
        if not balanced:
            break
        text = inner.strip()
    return text


def _any(text: str, shapes: list[Shape]) -> str:
    alternatives = _split_top(_strip_parens(text), "||")
    words = [_all(a, shapes) for a in alternatives]
    if len(words) == 1:
        return words[0]
    return "either " + ", or ".join(words)


def _all(text: str, shapes: list[Shape]) -> str:
    parts = [_clause(p, shapes) for p in _split_top(_strip_parens(text), "&&")]
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _clause(text: str, shapes: list[Shape]) -> str:
    text = _strip_parens(text)
    if not text:
        raise _Unreadable
    if text.startswith("!") and not text.startswith("!="):
        inner = _strip_parens(text[1:])
        if len(_split_top(inner, "&&")) > 1 or len(_split_top(inner, "||")) > 1:
            return f"it is not the case that {_any(inner, shapes)}"
        if inner.startswith("has("):
            return _term(inner).replace("the run records", "the run does not record", 1)
        return f"{_term(inner)} is false"
    if len(_split_top(text, "||")) > 1 or len(_split_top(text, "&&")) > 1:
        return _any(text, shapes)
    for operator in _COMPARISONS:
        sides = _split_top(text, operator)
        if len(sides) == 2 and sides[0] and sides[1]:
            left, right = sides
            if _NUMBER.match(left) and not _NUMBER.match(right):
                left, right, operator = right, left, _MIRRORED[operator]
            return _comparison(left, operator, right, shapes)
    sides = _split_top(text, " in ")
    if len(sides) == 2:
        return f"{_term(sides[0])} is in {_term(sides[1])}"
    method = _METHOD.match(text)
    if method:
        return _method(method)
    return _term(text)


def _comparison(left: str, operator: str, right: str, shapes: list[Shape]) -> str:
    if left == "k" and operator == "==" and right == "0":
        return "no sample shows the behaviour (k = 0)"
    _note_shape(left, operator, right, shapes)
    return f"{_term(left)} {_OPERATOR_WORDS[operator]} {_term(right)}"


def _note_shape(left: str, operator: str, right: str, shapes: list[Shape]) -> None:
    if not _NUMBER.match(right):
        return
    threshold = float(right)
    if left == "rate":
        shapes.append(Shape("rate", None, threshold, operator))
        return
    call = _CALL.match(left)
    if call and call.group(1) in _BOUNDS:
        args = _split_top(call.group(2), ",")
        level = float(args[2]) if len(args) > 2 and _NUMBER.match(args[2]) else 0.95
        shapes.append(Shape(call.group(1), level, threshold, operator))


def _level(value: str) -> str:
    if _NUMBER.match(value):
        return f"{float(value) * 100:g}%"
    return f"{_term(value)}-level"


def _method(match: re.Match[str]) -> str:
    subject, name, variable, condition = match.groups()
    body = _any(condition.strip(), [])
    subject_words = _term(subject)
    if name == "all":
        return f"every entry {variable} of {subject_words} satisfies: {body}"
    if name == "exists_one":
        return f"exactly one entry {variable} of {subject_words} satisfies: {body}"
    return f"some entry {variable} of {subject_words} satisfies: {body}"


def _term(text: str) -> str:
    text = _strip_parens(text)
    if text in _VARIABLES:
        return _VARIABLES[text]
    if _NUMBER.match(text):
        return text
    if text.startswith(("-", "+")) and len(text) > 1 and not _NUMBER.match(text):
        return f"minus {_term(text[1:])}" if text[0] == "-" else _term(text[1:])
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return f"“{text[1:-1]}”"
    if text in ("true", "false", "null"):
        return text
    for operator, word in ((" - ", "minus"), (" + ", "plus"), (" * ", "times"), (" / ", "over")):
        sides = _split_top(text, operator)
        if len(sides) == 2:
            return f"{_term(sides[0])} {word} {_term(sides[1])}"
    call = _CALL.match(text)
    if call and len(_split_top(call.group(2), ")")) >= 1 and _balanced(call.group(2)):
        name, args = call.group(1), [a for a in _split_top(call.group(2), ",") if a]
        if name in _BOUNDS:
            level = _level(args[2]) if len(args) > 2 else "95%"
            return "the " + _BOUNDS[name].format(level=level)
        if name in ("double", "int", "uint") and len(args) == 1:
            return _term(args[0])
        if name == "size" and len(args) == 1:
            return f"the number of entries in {_plain_name(args[0])}"
        if name == "has" and len(args) == 1:
            return "the run records " + _plain_name(args[0]).replace("the run's recorded ", "")
        if name == "binom_sf" and len(args) == 3:
            if args[0].replace(" ", "") == "k-1":
                return (
                    f"the chance of at least k successes out of n at a rate of {_term(args[2])} "
                    "(binomial tail)"
                )
            return (
                f"the chance of more than {_term(args[0])} successes out of n "
                f"at a rate of {_term(args[2])}"
            )
        if name == "p_any_defection" and len(args) == 2:
            return (
                f"the chance of at least one defection over {_term(args[1])} opportunities "
                f"when each defects with {_term(args[0])}"
            )
        if name in ("min", "max", "sum", "product") and len(args) == 1:
            word = {"min": "smallest", "max": "largest", "sum": "sum", "product": "product"}[name]
            return f"the {word} of {_term(args[0])}"
        return f"{name}({', '.join(args)})"
    if _NAME.match(text):
        return _plain_name(text)
    if text.startswith("[") and text.endswith("]"):
        items = [_term(i) for i in _split_top(text[1:-1], ",") if i]
        return "{" + ", ".join(items) + "}"
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if depth < 0:
            return False
    return depth == 0


def _plain_name(name: str) -> str:
    """`meta.eval_awareness.auroc` → "the run's recorded eval awareness auroc"."""
    name = name.strip()
    if name in _VARIABLES:
        return _VARIABLES[name]
    parts = name.split(".")
    if parts[0] == "meta" and len(parts) > 1:
        return "the run's recorded " + " ".join(p.replace("_", " ") for p in parts[1:])
    if parts[0] == "metrics" and len(parts) > 1:
        return "the metric " + ".".join(parts[1:])
    return " ".join(p.replace("_", " ") for p in parts)
