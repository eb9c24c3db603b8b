"""CEL (Common Expression Language) criteria and checks: compile, name-check and evaluate.

Pure and Django-free. Acceptance criteria on solutions and checks on assumptions are CEL
expressions over the variables of one evaluation run (`k`, `n`, `rate`, `metrics`, `meta`, …)
and a few statistical functions. The `common-expression-language` package (module `cel`) only
parses at compile time and resolves names when the program runs, so `compile_expression` adds a
static name check on top: every variable and function the expression mentions must be one we
know, so a typo is an error when the criterion is saved, not a `criterion_error` weeks later.

The statistical, control and honeypot functions (DOMAIN_FUNCTIONS) are implemented here with
`evidence.statistics` and available to every `evaluate` call; a caller may override any of them.
`evaluate` raises nothing but `EvaluationError`, whose message is a sentence naming what went
wrong (a missing variable or key, a type mismatch, a division by zero, a function given values it
cannot use), so an assessment can turn it into a `criterion_error` flag.

Expressions are bounded, because anyone who may edit a case writes them and a worker runs them:
the CEL runtime has no cost limit of its own and cannot be interrupted once it runs, so
`compile_expression` refuses texts longer than MAX_EXPRESSION_LENGTH, nested deeper than
MAX_NESTING, or with comprehensions (`all`, `exists`, `exists_one`, `map`, `filter`) nested more
than MAX_COMPREHENSION_DEPTH deep, before the parser sees them; and both it and `evaluate`
estimate the work a comprehension does over the lists it may iterate (the literals at compile
time, the actual variables at evaluation) and refuse an expression whose estimate exceeds
MAX_EVALUATION_COST, without running it.
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import cel
import numpy as np
from cel import stdlib as cel_stdlib

from evidence import statistics

__all__ = [
    "BUILTIN_FUNCTIONS",
    "DOMAIN_FUNCTIONS",
    "RUN_VARIABLES",
    "CompiledExpression",
    "EvaluationError",
    "ExpressionError",
    "MAX_COMPREHENSION_DEPTH",
    "MAX_EVALUATION_COST",
    "MAX_EXPRESSION_LENGTH",
    "MAX_NESTING",
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
    "estimation": (
        "biased estimators computed from the log's raw data: `kinds`, `milestone` (`p_hat`, "
        "`lower`, `upper` at `confidence`) and `expert` (`bits`, `implied_p`, "
        "`frequency_weighted_p`)"
    ),
    "paired": (
        "in a check or criterion whose selector has `paired_with`: the run's samples paired by "
        "sample id with "
        "those of the run `paired_with` selects — `n` pairs, `both`, `only_a`, `only_b`, "
        "`neither`, `unscored`, `acc_a`, `acc_b`, `diff` (acc_a − acc_b), its 95% interval "
        "`lower`/`upper` (Newcombe), the exact McNemar `p_value` (two-sided) and `p_greater` "
        "(a better than b), `run_a`, `run_b`"
    ),
    "claim": (
        "in a check over the runs in an assumption's scope: what the criterion that made the run "
        "evidence claims — `rate_bound` and `confidence` when it bounds the rate from above "
        "(`cp_upper(k, n, c) <= t`, `rate <= t`); empty otherwise and in criteria"
    ),
}

# The variables of a top goal's root rules (library/root.yaml), with what each holds.
ROOT_RULE_VARIABLES = {
    "factors": "map of factor id to {goal, bound, supported, developed, supporting_only}",
    "threshold": "the risk threshold of the top goal",
    "outcomes": "the unacceptable outcomes the case covers",
    "covered_outcomes": "the outcomes covered by a developed capability or harm branch",
}

# Functions a later issue implements (statistics §6 of the science reference).
DOMAIN_FUNCTIONS: dict[str, str] = {
    "cp_upper": "cp_upper(k, n, conf) — one-sided Clopper–Pearson upper bound of k/n",
    "cp_lower": "cp_lower(k, n, conf) — one-sided Clopper–Pearson lower bound of k/n",
    "cs_upper": (
        "cs_upper(k, n, conf) — upper bound of a Beta-binomial confidence sequence: valid "
        "however often it is checked as runs are pooled"
    ),
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
    "paired_upper": (
        "paired_upper(paired, conf) — one-sided upper bound at conf of the paired difference "
        "acc_a − acc_b (Newcombe's interval for paired data, from the `paired` table)"
    ),
    "paired_lower": (
        "paired_lower(paired, conf) — one-sided lower bound at conf of the paired difference "
        "acc_a − acc_b"
    ),
    "bonferroni": (
        "bonferroni(c, m) — the confidence each of m bounds needs for all m to hold jointly "
        "with confidence c: 1 − (1 − c)/m"
    ),
    "union_upper": (
        "union_upper(pairs, conf) — upper bound on the chance that any of several tasks "
        "succeeds, from per-task [k, n] pairs (or {k, n} maps): the sum of their Clopper–Pearson "
        "upper bounds, each at bonferroni(conf, m), so the sum holds at conf"
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

# Bounds on what one expression may cost (see the module docstring). The longest expression of
# the template library is under 200 characters and nests comprehensions at most once.
MAX_EXPRESSION_LENGTH = 2000
MAX_NESTING = 24  # parentheses, brackets and braces open at once
MAX_COMPREHENSION_DEPTH = 2
# Estimated steps (see _Shape.cost): `exists` over 10,000 samples costs 10,000, `filter` over
# 1,000 metrics 1,000,000; measured, 2,000,000 steps run in well under a second.
MAX_EVALUATION_COST = 2_000_000
_COMPREHENSION_CALL = re.compile(r"\.\s*(" + "|".join(_MACROS) + r")\s*\($")


class ExpressionError(ValueError):
    """A CEL expression that does not compile or names something unknown; the message is a
    sentence a template author or API user can act on."""


class EvaluationError(ExpressionError):
    """A compiled expression that could not be evaluated over the given variables: a missing
    variable or key, a type mismatch, a division by zero, or a function given values it cannot
    use. The message is a sentence naming the cause."""


@dataclass(frozen=True)
class _Shape:
    """What an expression's cost depends on, read from its text before it is parsed."""

    nesting: int  # deepest parenthesis, bracket or brace nesting
    depth: int  # deepest comprehension nesting
    # For each comprehension, the kinds of the comprehensions enclosing it and itself.
    comprehensions: tuple[tuple[str, ...], ...]
    literal_list: int  # elements of the longest list literal (an upper bound)
    concatenations: int  # `+` operators, each of which may lengthen a list

    def cost(self, longest_list: int) -> int:
        """Estimated steps when no list the expression iterates is longer than `longest_list`
        (times the `+` that could concatenate lists). `exists`, `all` and `exists_one` take a
        step per element; `map` and `filter` copy their growing result on every element in
        this runtime (measured quadratic), so they take length² steps."""
        length = max(longest_list, self.literal_list, 1) * (1 + self.concatenations)
        total = 1
        for chain in self.comprehensions:
            steps = 1
            for kind in chain:
                steps *= length * length if kind in ("map", "filter") else length
            total += steps
        return total


@dataclass(frozen=True)
class CompiledExpression:
    text: str
    program: Any  # cel.Program
    variables: frozenset[str]
    functions: frozenset[str]
    shape: _Shape | None = None


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
    shape = _bounded_shape(text)
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
        shape=shape,
    )


def _bounded_shape(text: str) -> _Shape:
    """The expression's shape, or ExpressionError when it is too long, too deeply nested or
    too costly even over its own literals. Runs before the parser, which recurses per level."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"The expression is {len(text):,} characters long; at most "
            f"{MAX_EXPRESSION_LENGTH:,} are accepted."
        )
    blank = _blank_strings(text)
    stack: list[str] = []  # "(" "[" "{" or a comprehension's kind
    elements: list[int] = []  # elements seen so far in each open list literal
    comprehensions: list[tuple[str, ...]] = []
    nesting = depth = literal_list = 0
    for index, char in enumerate(blank):
        if char in "([{":
            kind = char
            if char == "(":
                call = _COMPREHENSION_CALL.search(blank, max(0, index - 20), index + 1)
                if call is not None:
                    kind = call.group(1)
            stack.append(kind)
            elements.append(1 if char == "[" else 0)
            nesting = max(nesting, len(stack))
            if kind in _MACROS:
                chain = tuple(k for k in stack if k in _MACROS)
                comprehensions.append(chain)
                depth = max(depth, len(chain))
            if nesting > MAX_NESTING:
                raise ExpressionError(
                    f"The expression nests parentheses, brackets or braces more than "
                    f"{MAX_NESTING} deep; write it flatter."
                )
            if depth > MAX_COMPREHENSION_DEPTH:
                raise ExpressionError(
                    f"The expression nests comprehensions (all, exists, exists_one, map, "
                    f"filter) more than {MAX_COMPREHENSION_DEPTH} deep; each level multiplies "
                    f"the work by the length of a list."
                )
        elif char in ")]}" and stack:
            if stack.pop() == "[":
                literal_list = max(literal_list, elements[-1])
            elements.pop()
        elif char == "," and elements:
            elements[-1] += 1
    shape = _Shape(
        nesting=nesting,
        depth=depth,
        comprehensions=tuple(comprehensions),
        literal_list=literal_list,
        concatenations=blank.count("+"),
    )
    cost = shape.cost(0)
    if cost > MAX_EVALUATION_COST:
        raise ExpressionError("The expression " + _cost_sentence(cost, "over its own lists"))
    return shape


def _cost_sentence(cost: int, over: str) -> str:
    return (
        f"would take about {cost:,} steps {over}, more than the budget of "
        f"{MAX_EVALUATION_COST:,}; iterate fewer or shorter lists, or nest comprehensions less."
    )


def _longest_list(values: Iterable[Any], *, budget: int = 100_000) -> int:
    """The length of the longest list or map within `values` (looking at up to `budget`
    items, then assuming the worst of what is left)."""
    longest = seen = 0
    pending = list(values)
    while pending:
        value = pending.pop()
        if isinstance(value, Mapping):
            items = list(value.values())
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            continue
        longest = max(longest, len(items))
        seen += len(items)
        if seen > budget:
            return max(longest, seen)
        pending.extend(items)
    return longest


def evaluate(
    compiled: CompiledExpression,
    variables: Mapping[str, Any],
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Any:
    """Run a compiled expression over `variables`.

    The domain functions (DOMAIN_FUNCTIONS) and the aggregation helpers are always available;
    `functions` adds to or overrides them. A variable whose value is None counts as missing.
    Every failure — a missing variable or map key, a type mismatch, a division by zero, a
    function given values it cannot use — raises EvaluationError with a sentence naming the
    cause; nothing else escapes.
    """
    shape = compiled.shape
    if shape is not None and shape.comprehensions:
        longest = _longest_list(variables[name] for name in compiled.variables if name in variables)
        cost = shape.cost(longest)
        if cost > MAX_EVALUATION_COST:
            raise EvaluationError(
                f"The expression {compiled.text!r} was not evaluated: it "
                + _cost_sentence(cost, f"over lists of up to {longest:,} elements")
            )
    state = _STATE
    state.error = None
    shared = None if functions or getattr(state, "busy", False) else _shared_context()
    try:
        if shared is None:
            context = cel.Context(functions={**_IMPLEMENTATIONS, **(functions or {})})
            context.set_variable_resolver(_Resolver(variables))
            return compiled.program.execute(context)
        context, resolver = shared
        resolver.variables = variables
        state.busy = True
        try:
            return compiled.program.execute(context)
        finally:
            state.busy = False
            resolver.variables = _EMPTY
    except Exception as exc:  # the runtime raises RuntimeError, KeyError, TypeError, …
        raise EvaluationError(_runtime_sentence(compiled.text, exc, state.error)) from exc


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


# --------------------------------------------------------------------------------------------
# Evaluation machinery

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_STATE = threading.local()


class _FunctionError(Exception):
    """Raised by a domain function; its message is the sentence `evaluate` reports."""


class _Resolver:
    """Looks variables up lazily, so only the variables an expression uses are converted."""

    __slots__ = ("variables",)

    def __init__(self, variables: Mapping[str, Any] = _EMPTY):
        self.variables = variables

    def __call__(self, name: str) -> Any:
        return self.variables.get(name)


def _shared_context() -> tuple[Any, _Resolver]:
    """One context per thread with the default functions; `evaluate` swaps its variables."""
    shared = getattr(_STATE, "shared", None)
    if shared is None:
        resolver = _Resolver()
        context = cel.Context(functions=dict(_IMPLEMENTATIONS))
        context.set_variable_resolver(resolver)
        shared = _STATE.shared = (context, resolver)
    return shared


_UNDEFINED = re.compile(r"Undefined variable or function: '([^']*)'")
_FUNCTION_FAILED = re.compile(
    r"Function '([^']*)' error: Python function call failed: (\w+): (.*?)\.?\s*"
    r"(?:Check function arguments and their types\.)?$",
    re.DOTALL,
)


def _runtime_sentence(text: str, exc: Exception, function_error: str | None) -> str:
    """The reason an evaluation failed, as the end of the sentence
    "The expression '…' could not be evaluated: <reason>."."""
    message = str(exc.args[0]) if exc.args else ""
    if function_error:
        reason = function_error
    elif isinstance(exc, KeyError):
        reason = f"the key {message!r} is missing"
    elif isinstance(exc, ZeroDivisionError):
        reason = "it divides by zero" if "division" in message else "it takes a modulo by zero"
    elif isinstance(exc, OverflowError):
        reason = "an integer overflowed"
    elif isinstance(exc, IndexError):
        reason = f"a list index is out of range ({message})"
    elif isinstance(exc, TypeError) and "No such overload" in message:
        reason = (
            "an operator or function got values of types it is not defined for (CEL does not "
            "mix int and double: write 1.0 rather than 1, or convert with double(x))"
        )
    elif (match := _UNDEFINED.search(message)) is not None:
        reason = f"the variable or function {match.group(1)!r} is not available"
    elif (match := _FUNCTION_FAILED.search(message)) is not None:
        name, kind, detail = match.groups()
        reason = f"{name}() failed ({kind}: {detail.strip()})"
    else:
        first = message.split(". ")[0].strip().rstrip(".") or type(exc).__name__
        reason = f"{type(exc).__name__}: {first}" if first != type(exc).__name__ else first
    return f"The expression {text!r} could not be evaluated: {reason.rstrip('.')}."


class _SilenceOwnFunctionFailures(logging.Filter):
    """The runtime logs a warning whenever a Python function raises; for the domain functions
    that failure is reported through EvaluationError instead, so the log line is dropped."""

    _PREFIX = re.compile(r"Python function '([^']*)' failed")

    def filter(self, record: logging.LogRecord) -> bool:
        match = self._PREFIX.match(record.getMessage())
        return not (match and match.group(1) in _IMPLEMENTATIONS)


logging.getLogger("cel").addFilter(_SilenceOwnFunctionFailures())


# --------------------------------------------------------------------------------------------
# Domain functions (science reference §6), on top of evidence.statistics


def _domain(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a domain function so any failure is recorded as a sentence for `evaluate`."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any) -> Any:
            try:
                return function(*args)
            except _FunctionError as exc:
                _STATE.error = f"{name}() {exc}"
                raise
            except (ValueError, TypeError, ArithmeticError) as exc:
                _STATE.error = f"{name}() cannot use these values: {exc}"
                raise _FunctionError(str(exc)) from exc

        return wrapper

    return decorate


def _arity(args: tuple[Any, ...], low: int, high: int, usage: str) -> None:
    if not low <= len(args) <= high:
        raise _FunctionError(f"takes {usage}, got {len(args)} argument(s)")


def _count_arg(value: Any, name: str) -> int:
    """A non-negative whole number; a double with an integral value (3.0) is accepted."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _FunctionError(f"needs a whole number for {name}, got {_describe(value)}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise _FunctionError(f"needs a whole number for {name}, got {value!r}")
    if value < 0:
        raise _FunctionError(f"needs a non-negative {name}, got {int(value)}")
    return int(value)


def _integer_arg(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _FunctionError(f"needs a whole number for {name}, got {_describe(value)}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise _FunctionError(f"needs a whole number for {name}, got {value!r}")
    return int(value)


def _real_arg(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _FunctionError(f"needs a number for {name}, got {_describe(value)}")
    value = float(value)
    if math.isnan(value):
        raise _FunctionError(f"needs a number for {name}, got NaN")
    return value


def _probability_arg(value: Any, name: str) -> float:
    value = _real_arg(value, name)
    if not 0.0 <= value <= 1.0:
        raise _FunctionError(f"needs a probability between 0 and 1 for {name}, got {value!r}")
    return value


def _confidence_arg(args: tuple[Any, ...], index: int) -> float:
    if len(args) <= index:
        return statistics.DEFAULT_CONFIDENCE
    value = _real_arg(args[index], "conf")
    if not 0.0 < value < 1.0:
        raise _FunctionError(f"needs a confidence strictly between 0 and 1, got {value!r}")
    return value


def _trials(args: tuple[Any, ...], usage: str) -> tuple[int, int, float]:
    _arity(args, 2, 3, usage)
    k = _count_arg(args[0], "k")
    n = _count_arg(args[1], "n")
    if k > n:
        raise _FunctionError(f"needs k <= n, got k = {k} and n = {n}")
    if n == 0:
        raise _FunctionError("has no trials to bound (n = 0), so no bound exists")
    return k, n, _confidence_arg(args, 2)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a map"
    return type(value).__name__


def _numbers(value: Any, name: str, *, bools: bool = False) -> list[float]:
    if not isinstance(value, list | tuple):
        raise _FunctionError(f"needs a list for {name}, got {_describe(value)}")
    out = []
    for item in value:
        if isinstance(item, bool):
            if not bools:
                raise _FunctionError(f"needs numbers in {name}, got a bool")
            out.append(float(item))
        elif isinstance(item, numbers.Real) and not math.isnan(float(item)):
            out.append(float(item))
        else:
            raise _FunctionError(f"needs numbers in {name}, got {_describe(item)}")
    return out


# Memoised numeric cores: assessments evaluate the same bounds for many runs.
_cp_upper = functools.lru_cache(maxsize=65536)(statistics.cp_upper)
_cp_lower = functools.lru_cache(maxsize=65536)(statistics.cp_lower)
_cs_upper = functools.lru_cache(maxsize=16384)(statistics.cs_upper)
_wilson_upper = functools.lru_cache(maxsize=16384)(statistics.wilson_upper)
_wilson_lower = functools.lru_cache(maxsize=16384)(statistics.wilson_lower)
_binom_sf = functools.lru_cache(maxsize=16384)(statistics.binom_sf)
_min_trials = functools.lru_cache(maxsize=4096)(statistics.min_trials_for_bound)


@_domain("cp_upper")
def _fn_cp_upper(*args: Any) -> float:
    return _cp_upper(*_trials(args, "(k, n) or (k, n, conf)"))


@_domain("cp_lower")
def _fn_cp_lower(*args: Any) -> float:
    return _cp_lower(*_trials(args, "(k, n) or (k, n, conf)"))


@_domain("cs_upper")
def _fn_cs_upper(*args: Any) -> float:
    return _cs_upper(*_trials(args, "(k, n) or (k, n, conf)"))


@_domain("wilson_upper")
def _fn_wilson_upper(*args: Any) -> float:
    return _wilson_upper(*_trials(args, "(k, n) or (k, n, conf)"))


@_domain("wilson_lower")
def _fn_wilson_lower(*args: Any) -> float:
    return _wilson_lower(*_trials(args, "(k, n) or (k, n, conf)"))


def _paired_bound(args: tuple[Any, ...], *, upper: bool) -> float:
    _arity(args, 1, 2, "(paired) or (paired, conf)")
    table = args[0]
    if not isinstance(table, Mapping):
        raise _FunctionError(
            f"needs the `paired` table as its first argument, got {_describe(table)}"
        )
    table = {str(key): value for key, value in table.items()}  # CEL map keys are CEL strings
    counts = [_count_arg(table.get(key), key) for key in ("both", "only_a", "only_b", "neither")]
    confidence = _confidence_arg(args, 1)
    # A one-sided bound at c is one end of the two-sided interval at 2c − 1.
    interval = statistics.paired_difference_interval(*counts, 2 * confidence - 1)
    if interval is None:
        raise _FunctionError("has no paired samples to bound (n = 0), so no bound exists")
    return interval[1] if upper else interval[0]


@_domain("paired_upper")
def _fn_paired_upper(*args: Any) -> float:
    return _paired_bound(args, upper=True)


@_domain("paired_lower")
def _fn_paired_lower(*args: Any) -> float:
    return _paired_bound(args, upper=False)


@_domain("binom_sf")
def _fn_binom_sf(*args: Any) -> float:
    """P(X > x) for X ~ Binomial(n, p); x may be negative (then 1) or at least n (then 0), so
    the p-value P(X >= k) can be written binom_sf(k - 1, n, p) for every k."""
    _arity(args, 3, 3, "(x, n, p)")
    x = _integer_arg(args[0], "x")
    n = _count_arg(args[1], "n")
    p = _probability_arg(args[2], "p")
    if x < 0:
        return 1.0
    if x >= n:
        return 0.0
    return _binom_sf(x, n, p)


_BOOTSTRAP_RESAMPLES = 10_000
_BOOTSTRAP_SEED = 20240607


@_domain("bootstrap_p")
def _fn_bootstrap_p(*args: Any) -> float:
    """One-sided bootstrap p-value for "the mean of a exceeds the mean of b".

    Under the null hypothesis both samples come from one population, so both are resampled
    (with replacement) from the pooled values; the p-value is the share of resamples whose
    difference of means is at least the observed one, (1 + hits) / (1 + resamples). The seed is
    fixed, so the same data always give the same p-value. Values may be numbers or bools
    (correct = 1).
    """
    _arity(args, 2, 2, "(samples_a, samples_b)")
    a = _numbers(args[0], "samples_a", bools=True)
    b = _numbers(args[1], "samples_b", bools=True)
    if not a or not b:
        raise _FunctionError("needs at least one value in each sample")
    observed = sum(a) / len(a) - sum(b) / len(b)
    pooled = np.asarray(a + b, dtype=float)
    rng = np.random.default_rng(_BOOTSTRAP_SEED)
    hits = 0
    batch = max(1, min(_BOOTSTRAP_RESAMPLES, 2_000_000 // len(pooled)))
    done = 0
    tolerance = 1e-12 * max(1.0, float(np.abs(pooled).max()))
    while done < _BOOTSTRAP_RESAMPLES:
        size = min(batch, _BOOTSTRAP_RESAMPLES - done)
        ra = pooled[rng.integers(0, len(pooled), size=(size, len(a)))].mean(axis=1)
        rb = pooled[rng.integers(0, len(pooled), size=(size, len(b)))].mean(axis=1)
        hits += int(np.count_nonzero(ra - rb >= observed - tolerance))
        done += size
    return (1 + hits) / (1 + _BOOTSTRAP_RESAMPLES)


@_domain("n_for_zero")
def _fn_n_for_zero(*args: Any) -> int:
    _arity(args, 1, 2, "(t) or (t, conf)")
    t = _real_arg(args[0], "t")
    if not 0.0 < t < 1.0:
        raise _FunctionError(f"needs a rate bound t strictly between 0 and 1, got {t!r}")
    return _min_trials(t, _confidence_arg(args, 1))


@_domain("p_red_win")
def _fn_p_red_win(*args: Any) -> float:
    _arity(args, 4, 4, "(p, c, s, n_tasks)")
    return statistics.control_p_red_win(
        _probability_arg(args[0], "p"),
        _probability_arg(args[1], "c"),
        _probability_arg(args[2], "s"),
        _count_arg(args[3], "n_tasks"),
    )


@_domain("max_p_red_win")
def _fn_max_p_red_win(*args: Any) -> float:
    _arity(args, 2, 3, "(c, s) or (c, s, n_tasks)")
    n_tasks = _count_arg(args[2], "n_tasks") if len(args) == 3 else None
    return statistics.control_p_red_win_max(
        _probability_arg(args[0], "c"), _probability_arg(args[1], "s"), n_tasks
    )


@_domain("p_any_defection")
def _fn_p_any_defection(*args: Any) -> float:
    _arity(args, 2, 2, "(q, opportunities)")
    return statistics.defection_probability(
        _probability_arg(args[0], "q"), _count_arg(args[1], "opportunities")
    )


@_domain("bonferroni")
def _fn_bonferroni(*args: Any) -> float:
    _arity(args, 2, 2, "(c, m)")
    c = _confidence_arg(args, 0)
    m = _count_arg(args[1], "m")
    if m == 0:
        raise _FunctionError("needs at least one bound (m >= 1)")
    return statistics.bonferroni_confidence(c, m)


@_domain("union_upper")
def _fn_union_upper(*args: Any) -> float:
    _arity(args, 1, 2, "(pairs) or (pairs, conf)")
    if not isinstance(args[0], list | tuple) or not args[0]:
        raise _FunctionError("needs a non-empty list of [k, n] pairs")
    pairs = []
    for item in args[0]:
        if isinstance(item, Mapping) and "k" in item and "n" in item:
            k, n = item["k"], item["n"]
        elif isinstance(item, list | tuple) and len(item) == 2:
            k, n = item
        else:
            raise _FunctionError(f"needs [k, n] pairs or {{k, n}} maps, got {_describe(item)}")
        k, n = _count_arg(k, "k"), _count_arg(n, "n")
        if k > n:
            raise _FunctionError(f"needs k <= n, got k = {k} and n = {n}")
        pairs.append((k, n))
    bound = statistics.union_upper(pairs, _confidence_arg(args, 1))
    if bound is None:
        raise _FunctionError("has a task without trials (n = 0), so no bound exists")
    return bound


def _values(args: tuple[Any, ...]) -> list[Any]:
    """The elements of a single list argument, or the arguments themselves."""
    if len(args) == 1 and isinstance(args[0], list | tuple):
        return list(args[0])
    return list(args)


@_domain("product")
def _fn_product(*args: Any) -> float:
    """Product of a list of numbers as a double; the empty product is 1.0."""
    return float(math.prod(_numbers(_values(args), "the list")))


def _aggregate(name: str, implementation: Callable[..., Any]) -> Callable[..., Any]:
    @_domain(name)
    def aggregate(*args: Any) -> Any:
        if not _values(args) and name != "sum":
            raise _FunctionError("of an empty list is undefined")
        return implementation(*args)

    return aggregate


_IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "cp_upper": _fn_cp_upper,
    "cp_lower": _fn_cp_lower,
    "cs_upper": _fn_cs_upper,
    "wilson_upper": _fn_wilson_upper,
    "wilson_lower": _fn_wilson_lower,
    "binom_sf": _fn_binom_sf,
    "bootstrap_p": _fn_bootstrap_p,
    "n_for_zero": _fn_n_for_zero,
    "p_red_win": _fn_p_red_win,
    "max_p_red_win": _fn_max_p_red_win,
    "p_any_defection": _fn_p_any_defection,
    "paired_upper": _fn_paired_upper,
    "paired_lower": _fn_paired_lower,
    "bonferroni": _fn_bonferroni,
    "union_upper": _fn_union_upper,
    "product": _fn_product,
    "min": _aggregate("min", cel_stdlib.min_),
    "max": _aggregate("max", cel_stdlib.max_),
    "sum": _aggregate("sum", cel_stdlib.sum_),
}
assert set(_IMPLEMENTATIONS) == set(DOMAIN_FUNCTIONS)
