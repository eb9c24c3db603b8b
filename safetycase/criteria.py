"""CEL (Common Expression Language) criteria and checks: compile, name-check and evaluate.

Pure and Django-free. Acceptance criteria on solutions and checks on assumptions are CEL
expressions over the variables of one evaluation run (`k`, `n`, `rate`, `metrics`, `meta`, …)
and a few statistical functions. The `common-expression-language` package (module `cel`) only
parses at compile time and resolves names when the program runs, so `compile_expression` adds a
static name check on top: every variable and function the expression mentions must be one we
know, so a typo is an error when the criterion is saved, not a `criterion_error` weeks later.

The statistical and control/honeypot functions are declared here (name and signature) but
implemented by the assessment code, which passes them to `evaluate`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cel
from cel import stdlib as cel_stdlib

__all__ = [
    "BUILTIN_FUNCTIONS",
    "DOMAIN_FUNCTIONS",
    "RUN_VARIABLES",
    "CompiledExpression",
    "ExpressionError",
    "cel_literal",
    "compile_expression",
    "evaluate",
]

# The variables an assessment provides for one run (DESIGN §2, Criterion and Check).
RUN_VARIABLES: dict[str, str] = {
    "k": "number of successes (the behaviour or capability the metric counts) in the run",
    "n": "number of scored samples in the run",
    "rate": "k / n",
    "metrics": "aggregate metrics, keyed by scorer and metric name",
    "meta": "the run's metadata (elicitation, access level, conditions, red team, …)",
    "age_days": "days since the run finished",
    "model": "name of the model the run evaluated",
    "task": "name of the evaluated task",
    "errors": "number of samples that ended in an error",
    "samples": "per-sample results (list of maps with `id`, `epoch`, `scores`, `error`)",
}

# Functions a later issue implements (statistics §6 of the science reference).
DOMAIN_FUNCTIONS: dict[str, str] = {
    "cp_upper": "cp_upper(k, n, conf) — one-sided Clopper–Pearson upper bound of k/n",
    "cp_lower": "cp_lower(k, n, conf) — one-sided Clopper–Pearson lower bound of k/n",
    "wilson_upper": "wilson_upper(k, n, conf) — Wilson score upper bound of k/n",
    "wilson_lower": "wilson_lower(k, n, conf) — Wilson score lower bound of k/n",
    "binom_sf": "binom_sf(x, n, p) — P(X > x) for X ~ Binomial(n, p)",
    "bootstrap_p": "bootstrap_p(samples_a, samples_b) — one-sided bootstrap p-value of a − b",
    "n_for_zero": "n_for_zero(t, conf) — runs needed with no success to bound the rate below t",
    "p_red_win": (
        "p_red_win(p, c, s, n_tasks) — chance the red team wins over n_tasks when it attacks "
        "with probability p, is caught with probability c and succeeds uncaught with s"
    ),
    "max_p_red_win": "max_p_red_win(c, s, n_tasks) — the largest p_red_win over attack rates",
    "p_any_defection": (
        "p_any_defection(q, opportunities) — chance of at least one defection when each "
        "opportunity defects with probability q"
    ),
    "product": "product(list) — product of a list of numbers",
    "min": "min(list) — smallest element",
    "max": "max(list) — largest element",
    "sum": "sum(list) — sum of the elements",
}

# What the CEL runtime itself provides (cel-rust core), including timestamp accessors.
BUILTIN_FUNCTIONS = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "bool",
        "timestamp",
        "duration",
        "dyn",
        "type",
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getDayOfYear",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)
# Type names may appear as identifiers (`type(x) == int`).
_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type"}
)
# Aggregation helpers from the package's opt-in standard library, provided by `evaluate`.
_EXTRA_IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "min": cel_stdlib.min_,
    "max": cel_stdlib.max_,
    "sum": cel_stdlib.sum_,
}

_MACROS = ("all", "exists", "exists_one", "map", "filter")
_MACRO_BINDING = re.compile(r"\.\s*(?:" + "|".join(_MACROS) + r")\s*\(\s*([A-Za-z_]\w*)\s*,")
_STRING_LITERAL = re.compile(
    r"""[rRbB]{0,2}("""
    r'"""(?:[^\\]|\\.)*?"""'
    r"|'''(?:[^\\]|\\.)*?'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r")"
    "",
    re.DOTALL,
)
_SYNTAX_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")


class ExpressionError(ValueError):
    """A CEL expression that does not compile or names something unknown; the message is a
    sentence a template author or API user can act on."""


@dataclass(frozen=True)
class CompiledExpression:
    text: str
    program: Any  # cel.Program
    variables: frozenset[str]
    functions: frozenset[str]


def compile_expression(
    text: str,
    *,
    variables: Iterable[str] | None = None,
    functions: Iterable[str] | None = None,
) -> CompiledExpression:
    """Parse `text` and check that it names only known variables and functions.

    `variables` defaults to the run variables (RUN_VARIABLES); `functions` to the domain
    functions (DOMAIN_FUNCTIONS). CEL's own functions are always allowed. Raises
    ExpressionError naming the syntax position or the unknown name.
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("The expression is empty.")
    allowed_variables = frozenset(RUN_VARIABLES if variables is None else variables)
    allowed_functions = frozenset(DOMAIN_FUNCTIONS if functions is None else functions)
    try:
        program = cel.compile(text)
    except ValueError as exc:
        raise ExpressionError(_syntax_sentence(str(exc))) from exc
    references = program.references()
    used_functions = {f for f in references["functions"] if _is_name(f)}
    bound = set(_MACRO_BINDING.findall(_blank_strings(text)))
    used_variables = set(references["variables"]) - bound

    unknown_functions = sorted(
        f for f in used_functions if f not in allowed_functions and f not in BUILTIN_FUNCTIONS
    )
    if unknown_functions:
        name = unknown_functions[0]
        raise ExpressionError(
            f"Unknown function {name!r}{_position_of(text, name)}; known functions are "
            f"{', '.join(sorted(allowed_functions))} and CEL's own (size, int, double, …)."
        )
    unknown_variables = sorted(
        v for v in used_variables if v not in allowed_variables and v not in _TYPE_NAMES
    )
    if unknown_variables:
        name = unknown_variables[0]
        known = ", ".join(sorted(allowed_variables)) or "none"
        raise ExpressionError(
            f"Unknown name {name!r}{_position_of(text, name)}; known names are {known}."
        )
    return CompiledExpression(
        text=text,
        program=program,
        variables=frozenset(used_variables - _TYPE_NAMES),
        functions=frozenset(used_functions),
    )


def evaluate(
    compiled: CompiledExpression,
    variables: Mapping[str, Any],
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Any:
    """Run a compiled expression. Failures (a missing variable or key, a type mismatch, an
    unimplemented function) raise ExpressionError with the runtime's reason."""
    context = cel.Context(
        variables=dict(variables), functions={**_EXTRA_IMPLEMENTATIONS, **(functions or {})}
    )
    try:
        return compiled.program.execute(context)
    except Exception as exc:  # the runtime raises RuntimeError, KeyError, TypeError, …
        reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        kind = "no key" if isinstance(exc, KeyError) else "error"
        raise ExpressionError(
            f"The expression {compiled.text!r} could not be evaluated ({kind}: {reason})."
        ) from exc


def cel_literal(value: Any) -> str:
    """`value` (str, bool, int, float, None, list, dict) written as a CEL literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if any(c in text for c in ".eEn") else text + ".0"
    if isinstance(value, str):
        return cel_stdlib.quote(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cel_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{cel_literal(str(k))}: {cel_literal(v)}" for k, v in value.items())
        ) + "}"
    raise TypeError(f"{type(value).__name__} values cannot be written as CEL literals")


# --------------------------------------------------------------------------------------------


def _is_name(function: str) -> bool:
    """Operator overloads show up as `_&&_`, `@in`, `!_`; only real names are checked."""
    return bool(re.fullmatch(r"[A-Za-z]\w*", function))


def _blank_strings(text: str) -> str:
    """The text with string literals replaced by spaces (same length), so names inside strings
    are not mistaken for identifiers."""
    return _STRING_LITERAL.sub(lambda m: " " * len(m.group(0)), text)


def _position_of(text: str, name: str) -> str:
    blank = _blank_strings(text)
    match = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", blank) or re.search(
        rf"(?<!\w){re.escape(name)}(?!\w)", blank
    )
    if match is None:
        return ""
    line = blank.count("\n", 0, match.start()) + 1
    column = match.start() - (blank.rfind("\n", 0, match.start()) + 1) + 1
    return f" at line {line}, column {column}"


def _syntax_sentence(message: str) -> str:
    match = _SYNTAX_POSITION.search(message)
    if match is None:
        return f"The expression does not parse: {message.strip()}"
    line, column, reason = match.groups()
    reason = reason.split("\n", 1)[0].strip()
    reason = re.sub(r"^Syntax error:\s*", "", reason)
    reason = re.sub(r"\s+expecting \{.*$", "", reason)  # the token list helps nobody
    return f"Syntax error at line {line}, column {column}: {reason}."
