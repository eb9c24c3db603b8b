"""Assessment of a safety case: a status per node and the flags that explain it.

A pure function of plain data (no Django, no I/O): `assess(case, nodes, relations, bindings,
runs, attestations, now)` returns an `Assessment`. The semantics are those of DESIGN §3; where
the design leaves room, the choices are listed here and the tests pin them down.

Statuses: `supported`, `at_risk`, `defeated`, `undeveloped`. Goals, strategies, solutions and
assumptions have one; contexts, justifications and dialectic (counter) elements have none and
are left out of `statuses` and `reasons`.

Runs and bindings
-----------------
* Only runs with `status == "ingested"` are considered at all.
* A binding's selector matches a run (`binding_matches`) when the task (a name or a list of
  names), `task_version` and every `conditions` entry match, and the model is right: the
  selector's `model` if it names one, else the case's; the selector's `model_version` if given,
  else the case's version unless the selector names another model. A run model with a provider
  prefix (`openai/gpt-4o`) matches the bare name. A condition is looked up in
  `metadata["conditions"]` first, then in `metadata`; values compare equal, or equal as text
  (YAML may type `2026` as a number), or — for a list in the selector — by membership.
* A run is *eligible* for a binding when it matches, its `log_status` is `success` (error and
  cancelled runs never are) and, when the binding has `freshness_days`, it finished at most
  that many days before `now` (a run without a finish time is then never fresh). The latest
  eligible run (by `finished_at`, ties by run id) is the binding's evidence.
* `scorer` (or failing that `metric`) in the selector names the statistic that becomes
  `k`/`n`; a run with a single statistic needs no name. `run_variables` gives the CEL variables
  (`criteria.RUN_VARIABLES`): `age_days` is fractional days; `meta` is the run metadata, with
  `model_version_hash` defaulting to the run's model version (so catalogue check A04 works);
  `samples` only when the caller loaded them. A variable that cannot be given (no statistic,
  `n = 0` for `rate`, no finish time for `age_days`) is absent, and an expression that uses it
  ends in `criterion_error` with the reason.

Solutions
---------
* Every binding on a solution is an acceptance criterion (whatever its `kind`); the solution
  takes the worst outcome of its criteria (defeated < at risk < supported).
* No binding → at risk + `missing_evidence` ("no evidence bound"). No eligible run → at risk +
  `missing_evidence`, plus `model_mismatch` (rule A04) when runs of the task exist for another
  model or version and `stale_evidence` (rule A05) when the model's runs are all too old.
* Criterion true → supported; false → defeated + `criterion_failed`; not evaluable (does not
  compile, missing variable, CEL error, a result that is not a bool) → at risk +
  `criterion_error`. `assess` never raises for a bad expression; a binding whose selector is
  not a map or whose freshness window is not a positive number is a `criterion_error` too.
* `insufficient_samples` (warning, rule A06) when (a) the criterion claims an upper bound `t`
  it states as a literal — `cp_upper(k, n[, c]) < t` or `rate < t` (also `<=` and mirrored) —
  and `n < min_trials_for_bound(t, c)`, i.e. even zero successes could not show it (raised even
  when a point-estimate criterion passes); or (b) the criterion fails, depends on `k` or
  `rate`, and is false both with `k = 0` and with `k = n`. It does not change the status.
* `biased_estimator` (warning) when `meta.estimator` is `milestone` or `expert_best_of_n` and the
  criterion is an upper-bound claim (calls `cp_upper`, `wilson_upper`, `p_red_win`,
  `max_p_red_win` or `p_any_defection`, or bounds `rate` or `k` from above). Such estimates
  underestimate (science §6.3–§6.4) and cannot satisfy an upper bound on their own: a supported
  solution becomes at risk.
* `run_errors` (warning) when the evidence run has errored samples. Errored samples are left out
  of `k`/`n`, so the criterion is re-evaluated as if they had been trials that went either way
  (`k + e` of `n + e`, and `k` of `n + e`); when it does not hold in both, the errors exceed what
  the criterion tolerates and a supported solution becomes at risk. Criteria that do not use
  `k`, `n` or `rate` only get the flag.

Assumptions
-----------
* Every binding on an assumption is a check. A check with a selector is evaluated on the latest
  eligible run it selects; a check with an empty selector on every evidence run of the solutions
  in the assumption's scope (below the nodes it is in the context of), with each solution
  binding's scorer choice.
* A check false on any run → violated (defeated) + `assumption_violated`, even with a valid
  attestation: data that contradicts an assumption outweighs a reviewer's word.
* Otherwise a valid attestation (created by `now`, not expired) → holds (supported). An expired
  attestation gives `attestation_expired` (warning), also when the checks hold.
* Otherwise `attributes.requires_attestation` → unverified. Otherwise all checks true on at
  least one run each → holds; no run to check on, an evaluation error or no checks at all →
  unverified. Unverified assumptions are at risk with `assumption_unverified` (warning); the
  detail flags (`criterion_error`, `stale_evidence`, `model_mismatch`) sit on the assumption.
* That is the assumption's own status. A catalogue assumption exists once per case and sits in
  the context of goals across the arguments, so the goals and strategies in its scope see it
  through their own evidence (`_View`): a check with a selector reads the assumption's own
  evidence and concerns every node in the scope, but an empty-selector check's verdict on a
  run concerns only the nodes that run's solutions are at or below (`supported_by`
  descendants). For such a node the assumption is
  - violated when a check with a selector is false, or an empty-selector check is false on a
    run below it (a valid attestation does not outweigh either);
  - else holding when it has a valid attestation;
  - else unverified when it requires an attestation, a check does not compile, a check with a
    selector has no run or cannot be evaluated, an empty-selector check has no run in the whole
    scope, or an empty-selector check cannot be evaluated on a run below the node;
  - else holding, whatever the empty-selector checks found on runs elsewhere.
  So a run elsewhere that violates the assumption leaves a node unaffected, while its own
  unverified parts keep it at risk as with any unverified assumption. Errors are localised
  like violations so that a failing run elsewhere can never leave a node better off than an
  error there would: a node sees the same assumption whatever happens beside it.

Goals and strategies
--------------------
* Marked undeveloped, or with nothing supporting them → undeveloped + `undeveloped` (info);
  assumptions in scope do not change that.
* The `supported_by` children (goals, strategies, solutions) combine by `combination`:
  `all` = `at_least:<number of children>`, `any` = `at_least:1`; with k needed: supported when
  k children are supported, defeated when fewer than k are not defeated, else at risk. An
  undeveloped child is not supported but can still be developed. An unknown combination is read
  as `all` with an `ill_formed` error (rule `combination`).
* Assumptions in scope — in the context of the node or of any `supported_by` ancestor — then
  apply as the node sees them (above): a violated one makes the node defeated (the reason
  names the runs below it when they are what violates it, "G2 is defeated: assumption A06 in
  its scope is violated by run 282 below it."); an unverified one makes a supported node at
  risk.
* A statement with an unfilled `{parameter}` gets `unresolved_parameter` (error) and the node,
  if supported, becomes at risk (the claim is not fully stated). Placeholders left in a binding's
  expression or selector are flagged on the binding's node too.
* Nodes on a `supported_by` cycle are at risk (the cycle is an `ill_formed` R9 error).
* Root rules (`attributes.root_rules`, see library/root.yaml) are checked on their node after
  everything else. Variables: `factors` (factor id → its fields plus `supported` = its goal is
  supported and `developed` = its goal reaches a solution), `threshold`, `outcomes` and
  `covered_outcomes` (the outcomes — a factor's own `outcomes` list, else all — of developed
  factors that are not `supporting_only`). A false rule raises the rule's flag type on the node:
  `criterion_failed` makes it defeated (error) when the rule also fails with every factor whose
  goal is not defeated counted as supported, and at risk (warning, "not met yet") when more
  support could still satisfy it; `alignment_only`, `undeveloped` and other types make a
  supported node at risk (warning). A rule that cannot be evaluated → `criterion_error`.
* GSN well-formedness (`check_argument`): every finding becomes an `ill_formed` flag with the rule
  code and the finding's severity; apart from cycles it does not change statuses.

Flags carry `node` ("" for the whole argument), `run` (id or None) and `rule` (a GSN rule
code, a root rule code, or the catalogue assumption a statistical flag stands for: A04
`model_mismatch`, A05 `stale_evidence`, A06 `insufficient_samples`).

Incremental use
---------------
`assess(..., cache=AssessmentCache())` with the same cache object on later calls of the same
case reuses compiled expressions, evaluations (keyed by expression, run id and content, statistic
and — only for expressions that use `age_days` — the age), binding and assumption outcomes that
no changed run can affect and whose time window still holds, the GSN findings and graph indexes
when nodes, relations and bindings are unchanged, and re-derives only the nodes above what
changed — including, when an assumption keeps its status but the runs that violate it move,
the nodes above the runs that came or went. The result is always equal to a fresh `assess` of
the same inputs. `assess` pauses Python's cyclic garbage collector while it runs (it allocates
many small acyclic objects; this saves about 40% on a 10,000-node case). `bench/assess_pure.py`
times it.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import heapq
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from evidence.statistics import DEFAULT_CONFIDENCE, min_trials_for_bound
from safetycase.core import criteria
from safetycase.core.gsn.model import Argument, Element, Relation
from safetycase.core.gsn.rules import check_argument

__all__ = [
    "AT_RISK",
    "DEFEATED",
    "FLAG_TYPES",
    "STATUSES",
    "SUPPORTED",
    "UNDEVELOPED",
    "Assessment",
    "AssessmentCache",
    "AttestationFacts",
    "BindingFacts",
    "CaseFacts",
    "Flag",
    "NodeFacts",
    "RunFacts",
    "assess",
    "binding_matches",
    "run_variables",
]

SUPPORTED = "supported"
AT_RISK = "at_risk"
DEFEATED = "defeated"
UNDEVELOPED = "undeveloped"
STATUSES = (SUPPORTED, AT_RISK, DEFEATED, UNDEVELOPED)

ERROR = "error"
WARNING = "warning"
INFO = "info"

FLAG_TYPES = (
    "missing_evidence",
    "criterion_failed",
    "criterion_error",
    "assumption_violated",
    "assumption_unverified",
    "attestation_expired",
    "stale_evidence",
    "model_mismatch",
    "insufficient_samples",
    "biased_estimator",
    "run_errors",
    "undeveloped",
    "ill_formed",
    "unresolved_parameter",
    "alignment_only",
)

GOAL = "goal"
STRATEGY = "strategy"
SOLUTION = "solution"
ASSUMPTION = "assumption"
SUPPORTED_BY = "supported_by"
IN_CONTEXT_OF = "in_context_of"
INGESTED = "ingested"
SUCCESS = "success"
BIASED_ESTIMATORS = frozenset({"milestone", "expert_best_of_n"})
ROOT_RULE_VARIABLES = ("factors", "threshold", "outcomes", "covered_outcomes")

_STATUS_TYPES = frozenset({GOAL, STRATEGY, SOLUTION, ASSUMPTION})
_ARGUED_TYPES = frozenset({GOAL, STRATEGY})
_SUPPORT_TYPES = frozenset({GOAL, STRATEGY, SOLUTION})
_RANK = {DEFEATED: 0, AT_RISK: 1, UNDEVELOPED: 1, SUPPORTED: 2}
_SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}
_DAY = 86400.0
_FOREVER = math.inf


# --------------------------------------------------------------------------------------------
# Inputs and output


@dataclass(frozen=True)
class CaseFacts:
    model_name: str = ""
    model_version: str = ""


@dataclass(frozen=True)
class NodeFacts:
    identifier: str
    type: str
    statement: str = ""
    undeveloped: bool = False
    combination: str = "all"
    catalogue_id: str = ""
    # requires_attestation (assumptions), root_rules (a top goal), interchange extras.
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class BindingFacts:
    id: int | str
    node: str
    kind: str  # "criterion" (solutions) | "check" (assumptions)
    selector: Mapping[str, Any] = field(default_factory=dict, hash=False)
    freshness_days: int | None = None
    expression: str = ""


@dataclass(frozen=True)
class RunFacts:
    id: int | str
    task: str = ""
    task_version: str = ""
    model: str = ""
    model_version: str = ""
    status: str = INGESTED
    log_status: str = SUCCESS
    finished_at: datetime | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # score name -> (k, n)
    statistics: Mapping[str, tuple[int, int]] = field(default_factory=dict, hash=False)
    # score name -> {metric name: value}
    metrics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)
    error_count: int = 0
    sample_count: int = 0
    # Per-sample results ({id, epoch, scores, error}) when the caller loaded them.
    samples: tuple[Mapping[str, Any], ...] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class AttestationFacts:
    id: int | str
    node: str
    by: str
    statement: str = ""
    scope: str = ""
    expires_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Flag:
    type: str
    severity: str  # "error" | "warning" | "info"
    node: str  # "" when the flag concerns the whole argument
    run: int | str | None
    rule: str
    message: str


@dataclass(frozen=True)
class Assessment:
    statuses: Mapping[str, str]
    reasons: Mapping[str, str]
    flags: tuple[Flag, ...]

    def flags_of(self, node: str) -> tuple[Flag, ...]:
        return tuple(f for f in self.flags if f.node == node)


# --------------------------------------------------------------------------------------------
# Public helpers


def binding_matches(selector: Mapping[str, Any], run: RunFacts, case: CaseFacts) -> bool:
    """Whether `selector` picks `run` for `case` (task, task version, conditions, model)."""
    selector = selector or {}
    return _selector_matches(selector, run) and _model_matches(selector, run, case)


def run_variables(
    run: RunFacts, selector: Mapping[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """The CEL variables of `run` (criteria.RUN_VARIABLES) for a binding with `selector`."""
    return _run_variables(run, _statistic(run, selector or {}), _ts(now))


def assess(
    case: CaseFacts,
    nodes: Iterable[NodeFacts],
    relations: Iterable[Relation],
    bindings: Iterable[BindingFacts],
    runs: Iterable[RunFacts],
    attestations: Iterable[AttestationFacts],
    now: datetime,
    *,
    cache: AssessmentCache | None = None,
) -> Assessment:
    """Assess a case: a status and reason per node and the flags, deterministic and
    independent of input order. Pass the same `cache` on later calls for the same case to
    re-assess incrementally; the result equals a fresh assessment."""
    engine = cache if cache is not None else AssessmentCache()
    # The pass allocates many small objects that form no cycles; pausing the cyclic garbage
    # collector meanwhile saves about 40% of a large assessment's time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return engine._assess(
            case,
            tuple(nodes),
            tuple(relations),
            tuple(bindings),
            tuple(runs),
            tuple(attestations),
            now,
        )
    finally:
        if collecting:
            gc.enable()


# --------------------------------------------------------------------------------------------
# Small helpers

_DIGITS = re.compile(r"(\d+)")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\}")
_STRING_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'')
_NUM = r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_CP_BOUND = re.compile(rf"\bcp_upper\(\s*k\s*,\s*n\s*(?:,\s*{_NUM}\s*)?\)\s*(<=|<)\s*{_NUM}")
_CP_BOUND_MIRRORED = re.compile(
    rf"(?<![\w.]){_NUM}\s*(>=|>)\s*cp_upper\(\s*k\s*,\s*n\s*(?:,\s*{_NUM}\s*)?\)"
)
_RATE_BOUND = re.compile(rf"(?<![\w.])rate\s*(<=|<)\s*{_NUM}")
_RATE_BOUND_MIRRORED = re.compile(rf"(?<![\w.]){_NUM}\s*(>=|>)\s*rate(?![\w.])")
_UPPER_CALL = re.compile(
    r"\b(?:cp_upper|wilson_upper|p_red_win|max_p_red_win|p_any_defection)\s*\("
)
_BOUNDED_FROM_ABOVE = re.compile(r"(?<![\w.])(?:rate|k)\s*(?:<=?|==\s*0(?![\d.]))")
_BOUNDED_FROM_ABOVE_MIRRORED = re.compile(r">=?\s*(?:rate|k)(?![\w.(])")
_ARITHMETIC = frozenset("+-*/%")


@functools.lru_cache(maxsize=1 << 17)
def _natural(text: str) -> tuple[Any, ...]:
    """Sort key putting G2 before G10."""
    return tuple(int(p) if i % 2 else p for i, p in enumerate(_DIGITS.split(text)))


def _id_key(value: Any) -> tuple[Any, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (0, value, ())
    return (1, 0, _natural(str(value)))


def _ts(moment: datetime | None) -> float:
    """POSIX seconds; a naive datetime is taken as UTC; None is -inf (oldest)."""
    if moment is None:
        return -math.inf
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _join(items: Sequence[str], limit: int = 4) -> str:
    items = list(items)
    if len(items) > limit:
        items = [*items[: limit - 1], f"{len(items) - limit + 1} more"]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pct(value: float) -> str:
    return f"{value * 100:g}%"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _blank_strings(text: str) -> str:
    return _STRING_LITERAL.sub(lambda m: " " * len(m.group(0)), text)


def _placeholders(value: Any) -> list[str]:
    """The `{parameter}` placeholders left in a string or in the strings of a structure."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "{" in item:
                found.extend(m.group(0) for m in _PLACEHOLDER.finditer(item))
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return sorted(set(found))


def _flag_key(flag: Flag) -> tuple[Any, ...]:
    return (
        _SEVERITY_ORDER.get(flag.severity, 3),
        flag.type,
        flag.rule,
        flag.run is not None,
        _id_key(flag.run) if flag.run is not None else (),
        flag.message,
    )


def _status_word(status: str) -> str:
    return status.replace("_", " ")


def _worst(statuses: Iterable[str]) -> str:
    return min(statuses, key=lambda s: _RANK[s], default=SUPPORTED)


# --------------------------------------------------------------------------------------------
# Runs: selection and variables


def _selector_matches(selector: Mapping[str, Any], run: RunFacts) -> bool:
    task = selector.get("task")
    if task not in (None, ""):
        if isinstance(task, list | tuple):
            if run.task not in task:
                return False
        elif run.task != task:
            return False
    version = selector.get("task_version")
    if version not in (None, "") and str(run.task_version) != str(version):
        return False
    conditions = selector.get("conditions")
    if conditions:
        if not isinstance(conditions, Mapping):
            return False
        meta = run.metadata or {}
        run_conditions = meta.get("conditions")
        if not isinstance(run_conditions, Mapping):
            run_conditions = {}
        for key, expected in conditions.items():
            if key in run_conditions:
                actual = run_conditions[key]
            elif key in meta:
                actual = meta[key]
            else:
                return False
            if not _same_value(actual, expected):
                return False
    return True


def _same_value(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    if isinstance(expected, list | tuple) and not isinstance(actual, list | tuple):
        return any(_same_value(actual, e) for e in expected)
    scalar = (str, int, float, bool)
    if isinstance(actual, scalar) and isinstance(expected, scalar):
        return _text(actual) == _text(expected)
    return False


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _expected_model(selector: Mapping[str, Any], case: CaseFacts) -> tuple[str, str]:
    named = selector.get("model") or ""
    model = named or case.model_name or ""
    if "model_version" in selector:
        version = selector.get("model_version") or ""
    else:
        version = "" if named else (case.model_version or "")
    return str(model), str(version)


def _model_matches(selector: Mapping[str, Any], run: RunFacts, case: CaseFacts) -> bool:
    model, version = _expected_model(selector, case)
    if model and run.model != model and not run.model.endswith("/" + model):
        return False
    return not (version and str(run.model_version) != version)


@dataclass(frozen=True)
class _Stat:
    """Which statistic of a run gives k/n for a selector, or why none does."""

    key: str  # cache key part: the score name, or "" when none
    k: int | None
    n: int | None
    note: str  # why k/n are missing, "" when present


def _statistic(run: RunFacts, selector: Mapping[str, Any]) -> _Stat:
    stats = run.statistics or {}
    wanted = selector.get("scorer") or ""
    if not wanted and selector.get("metric") in stats:
        wanted = selector["metric"]
    if wanted:
        pair = stats.get(wanted)
        if pair is None:
            have = _join(sorted(stats)) or "none"
            return _Stat(
                "", None, None, f"run {run.id} has no statistic named {wanted!r} (it has {have})"
            )
        return _Stat(str(wanted), int(pair[0]), int(pair[1]), "")
    if len(stats) == 1:
        ((name, pair),) = stats.items()
        return _Stat(str(name), int(pair[0]), int(pair[1]), "")
    if not stats:
        return _Stat("", None, None, f"run {run.id} has no success counts (k/n) for any score")
    return _Stat(
        "",
        None,
        None,
        f"run {run.id} has several scores ({_join(sorted(stats))}); the binding's selector "
        "must name one as 'scorer'",
    )


def _run_variables(run: RunFacts, stat: _Stat, now_ts: float) -> dict[str, Any]:
    meta = run.metadata or {}
    if run.model_version and "model_version_hash" not in meta:
        meta = {**meta, "model_version_hash": run.model_version}
    variables: dict[str, Any] = {
        "metrics": run.metrics or {},
        "meta": meta,
        "model": run.model,
        "task": run.task,
        "errors": int(run.error_count or 0),
    }
    if stat.k is not None:
        variables["k"] = stat.k
        variables["n"] = stat.n
        if stat.n:
            variables["rate"] = stat.k / stat.n
    if run.finished_at is not None:
        variables["age_days"] = (now_ts - _ts(run.finished_at)) / _DAY
    if run.samples is not None:
        variables["samples"] = list(run.samples)
    return variables


def _with_counts(variables: Mapping[str, Any], k: int, n: int) -> dict[str, Any]:
    out = dict(variables)
    out["k"], out["n"] = k, n
    if n:
        out["rate"] = k / n
    else:
        out.pop("rate", None)
    return out


def _run_text(run: RunFacts, stat: _Stat | None = None) -> str:
    if stat is not None and stat.k is not None:
        return f"run {run.id} (k/n = {stat.k}/{stat.n})"
    return f"run {run.id}"


def _run_sort_key(run: RunFacts) -> tuple[Any, ...]:
    return (_ts(run.finished_at), _id_key(run.id))


# --------------------------------------------------------------------------------------------
# Expressions


@dataclass(frozen=True)
class _Expression:
    text: str
    compiled: criteria.CompiledExpression | None
    error: str  # why it does not compile, "" when it does
    uses_age: bool
    uses_counts: bool  # k, n or rate
    bound: tuple[float, float] | None  # (t, confidence) of a literal upper-bound claim
    upper_claim: bool


def _shape(text: str) -> tuple[tuple[float, float] | None, bool]:
    """The literal upper bound (t, confidence) a criterion claims for the rate, if it states
    one as `cp_upper(k, n[, c]) < t` or `rate < t` (also <=, and mirrored), and whether it is
    an upper-bound claim at all. A comparison that is part of arithmetic (`1.0 - rate <= 0.1`
    bounds the rate from below) does not count."""
    blank = _blank_strings(text)

    def alone(match: re.Match[str]) -> bool:
        before = blank[: match.start()].rstrip()[-1:]
        after = blank[match.end() :].lstrip()[:1]
        return before not in _ARITHMETIC and after not in _ARITHMETIC

    bounds: list[tuple[float, float]] = []
    for match in _CP_BOUND.finditer(blank):
        if alone(match):
            conf, _, t = match.groups()
            bounds.append((float(t), float(conf) if conf else DEFAULT_CONFIDENCE))
    for match in _CP_BOUND_MIRRORED.finditer(blank):
        if alone(match):
            t, _, conf = match.groups()
            bounds.append((float(t), float(conf) if conf else DEFAULT_CONFIDENCE))
    for match in _RATE_BOUND.finditer(blank):
        if alone(match):
            bounds.append((float(match.group(2)), DEFAULT_CONFIDENCE))
    for match in _RATE_BOUND_MIRRORED.finditer(blank):
        if alone(match):
            bounds.append((float(match.group(1)), DEFAULT_CONFIDENCE))
    bounds = [(t, c) for t, c in bounds if 0.0 < t < 1.0 and 0.0 < c < 1.0]
    bound = min(bounds) if bounds else None
    upper = bool(_UPPER_CALL.search(blank)) or any(
        alone(m)
        for pattern in (_BOUNDED_FROM_ABOVE, _BOUNDED_FROM_ABOVE_MIRRORED)
        for m in pattern.finditer(blank)
    )
    return bound, upper


def _evaluate(expression: _Expression, variables: Mapping[str, Any]) -> tuple[bool, Any]:
    """(True, value) or (False, sentence); never raises."""
    try:
        return True, criteria.evaluate(expression.compiled, variables)
    except criteria.EvaluationError as exc:
        return False, str(exc)
    except Exception as exc:  # defensive: an assessment never fails on an expression
        return False, f"The expression {_quoted(expression.text)} could not be evaluated: {exc}."


# --------------------------------------------------------------------------------------------
# The case structure: everything that depends only on nodes, relations and bindings


class _Structure:
    def __init__(
        self,
        nodes: tuple[NodeFacts, ...],
        relations: tuple[Relation, ...],
        bindings: tuple[BindingFacts, ...],
        expression: Any,
    ) -> None:
        # Nodes: one per identifier, chosen deterministically when duplicated (R1 reports it).
        groups: dict[str, list[NodeFacts]] = defaultdict(list)
        for node in nodes:
            groups[node.identifier].append(node)
        chosen: dict[str, NodeFacts] = {}
        for identifier, group in groups.items():
            if len(group) > 1:
                group.sort(key=lambda n: (n.type, n.statement, n.combination, repr(n)))
            chosen[identifier] = group[0]
        self.ids = sorted(chosen, key=_natural)
        self.nodes = {i: chosen[i] for i in self.ids}
        self.rank = {i: r for r, i in enumerate(self.ids)}
        type_of = {i: n.type for i, n in self.nodes.items()}

        # Edges between known nodes (no self-loops; duplicates collapse).
        children: dict[str, set[str]] = defaultdict(set)
        parents: dict[str, set[str]] = defaultdict(set)
        contexts: dict[str, set[str]] = defaultdict(set)
        holders: dict[str, set[str]] = defaultdict(set)
        for rel in set(relations):
            s, t = rel.source, rel.target
            if s == t or s not in type_of or t not in type_of:
                continue
            if rel.type == SUPPORTED_BY:
                if type_of[s] in _ARGUED_TYPES and type_of[t] in _SUPPORT_TYPES:
                    children[s].add(t)
                    parents[t].add(s)
            elif rel.type == IN_CONTEXT_OF and type_of[t] == ASSUMPTION:
                contexts[s].add(t)
                holders[t].add(s)
        order_key = self.rank.__getitem__
        self.children = {i: sorted(v, key=order_key) for i, v in children.items()}
        self.parents = {i: sorted(v, key=order_key) for i, v in parents.items()}
        self.holders = {i: sorted(v, key=order_key) for i, v in holders.items()}

        self.support_ids = [i for i in self.ids if type_of[i] in _SUPPORT_TYPES]
        self.assumption_ids = [i for i in self.ids if type_of[i] == ASSUMPTION]
        self.status_ids = [i for i in self.ids if type_of[i] in _STATUS_TYPES]

        # Bindings per node, in id order; duplicates of an id keep the first in that order.
        by_id: dict[Any, BindingFacts] = {}
        malformed: set[Any] = set()
        for b in sorted(bindings, key=lambda b: (_id_key(b.id), b.node, b.expression)):
            if b.id in by_id:
                continue
            if not isinstance(b.selector or {}, Mapping):
                malformed.add(b.id)
                b = dataclasses.replace(b, selector={})
            days = b.freshness_days
            if days is not None and not (
                isinstance(days, int | float) and not isinstance(days, bool) and days > 0
            ):
                try:
                    freshness = float(b.freshness_days)
                except (TypeError, ValueError):
                    freshness = math.nan
                if not freshness > 0:  # also NaN
                    malformed.add(b.id)
                    freshness = None
                b = dataclasses.replace(b, freshness_days=freshness)
            by_id[b.id] = b
        self.bindings = by_id
        self.node_bindings: dict[str, list[BindingFacts]] = defaultdict(list)
        for b in by_id.values():
            if b.node in type_of and type_of[b.node] in (SOLUTION, ASSUMPTION):
                self.node_bindings[b.node].append(b)
        self.expressions = {b.id: expression(b.expression) for b in by_id.values()}
        for bid in malformed:
            self.expressions[bid] = dataclasses.replace(
                self.expressions[bid],
                compiled=None,
                error="Its selector is not a map or its freshness window is not a positive "
                "number of days.",
            )
        self.bindings_by_task: dict[str, list[Any]] = defaultdict(list)
        self.bindings_any_task: list[Any] = []
        for bid, b in by_id.items():
            task = (b.selector or {}).get("task")
            if task in (None, ""):
                self.bindings_any_task.append(bid)
            elif isinstance(task, list | tuple):
                for t in task:
                    self.bindings_by_task[str(t)].append(bid)
            else:
                self.bindings_by_task[str(task)].append(bid)

        # Root rules: their node depends on the factor goals as well as on its children.
        self.root_rules: dict[str, _RootRules] = {}
        extra_deps: dict[str, set[str]] = defaultdict(set)
        for i in self.ids:
            rules = self.nodes[i].attributes.get("root_rules") if self.nodes[i].attributes else None
            if type_of[i] in _ARGUED_TYPES and isinstance(rules, Mapping):
                parsed = _RootRules(rules, expression)
                self.root_rules[i] = parsed
                for goal in parsed.goals:
                    if goal in type_of and type_of[goal] in _SUPPORT_TYPES and goal != i:
                        extra_deps[i].add(goal)
        self.dependents: dict[str, list[str]] = {
            i: list(self.parents.get(i, ())) for i in self.support_ids
        }
        for node, goals in extra_deps.items():
            for goal in goals:
                if node not in self.dependents[goal]:
                    self.dependents[goal].append(node)

        # Children-first order (Kahn); nodes on cycles are forced in and marked cyclic.
        deps = {
            i: set(self.children.get(i, ())) | extra_deps.get(i, set()) for i in self.support_ids
        }
        self.order, self.cyclic = _children_first(self.support_ids, deps, self.dependents)
        self.position = {i: p for p, i in enumerate(self.order)}

        # Assumptions in scope (context inheritance over supported_by), parents first.
        empty: frozenset[str] = frozenset()
        scope: dict[str, frozenset[str]] = {}
        for _ in range(len(self.order) + 1):
            changed = False
            for i in reversed(self.order):
                direct = contexts.get(i)
                ps = self.parents.get(i, ())
                if not ps:
                    new = frozenset(direct) if direct else empty
                elif len(ps) == 1 and not direct:
                    new = scope.get(ps[0], empty)
                else:
                    new = frozenset(direct or ()).union(*(scope.get(p, empty) for p in ps))
                if scope.get(i) != new:
                    scope[i] = new
                    changed = True
            if not changed or not self.cyclic:
                break
        self.scope = scope
        self.in_scope_of: dict[str, list[str]] = defaultdict(list)  # assumption -> nodes
        self.scope_solutions: dict[str, list[str]] = defaultdict(list)
        needs_runs = {
            a
            for a in self.assumption_ids
            if any(not (b.selector or {}) for b in self.node_bindings.get(a, ()))
        }
        for i in self.order:
            for a in scope.get(i, empty):
                if type_of[i] in _ARGUED_TYPES:
                    self.in_scope_of[a].append(i)
                elif a in needs_runs:
                    self.scope_solutions[a].append(i)
        for a in self.scope_solutions:
            self.scope_solutions[a].sort(key=order_key)
        self.assumptions_of_solution: dict[str, list[str]] = defaultdict(list)
        for a, sols in self.scope_solutions.items():
            for s in sols:
                self.assumptions_of_solution[s].append(a)

        # Nodes from which a solution can be reached (a "developed" branch).
        evidenced = {i for i in self.support_ids if type_of[i] == SOLUTION}
        stack = list(evidenced)
        while stack:
            node = stack.pop()
            for p in self.parents.get(node, ()):
                if p not in evidenced:
                    evidenced.add(p)
                    stack.append(p)
        self.evidenced = evidenced

        # Static flags: GSN well-formedness, unfilled parameters, bad combinations.
        static: dict[str, list[Flag]] = defaultdict(list)
        ordered_nodes = [n for i in self.ids for n in groups[i]]
        ordered_nodes += [n for n in nodes if n.identifier not in self.nodes]
        argument = Argument(
            elements=[
                Element(
                    identifier=n.identifier,
                    type=n.type,
                    statement=n.statement,
                    undeveloped=n.undeveloped,
                    attributes=n.attributes if isinstance(n.attributes, dict) else {},
                )
                for n in ordered_nodes
            ],
            relations=sorted(set(relations), key=self._relation_key),
        )
        for finding in check_argument(argument):
            node = finding.node or ""
            static[node].append(
                Flag("ill_formed", finding.severity, node, None, finding.rule, finding.message)
            )
        self.unresolved: dict[str, list[str]] = {}
        for i, node in self.nodes.items():
            found = _placeholders(node.statement)
            if found:
                self.unresolved[i] = found
                static[i].append(
                    Flag(
                        "unresolved_parameter",
                        ERROR,
                        i,
                        None,
                        "",
                        f"The statement of {i} still contains the unfilled parameter"
                        f"{'s' if len(found) > 1 else ''} {_join(found)}; give "
                        f"{'them values' if len(found) > 1 else 'it a value'} in the case.",
                    )
                )
        for b in by_id.values():
            found = _placeholders([b.expression, dict(b.selector or {})])
            if found and b.node in self.nodes:
                static[b.node].append(
                    Flag(
                        "unresolved_parameter",
                        ERROR,
                        b.node,
                        None,
                        "",
                        f"The evidence binding {b.id} of {b.node} still contains the unfilled "
                        f"parameter{'s' if len(found) > 1 else ''} {_join(found)} in its "
                        "expression or selector.",
                    )
                )
        self.needed: dict[str, int] = {}
        for i in self.support_ids:
            node = self.nodes[i]
            if node.type not in _ARGUED_TYPES:
                continue
            combination = (node.combination or "all").strip()
            total = len(self.children.get(i, ()))
            if combination == "all":
                self.needed[i] = total
            elif combination == "any":
                self.needed[i] = min(1, total)
            elif (match := re.fullmatch(r"at_least:\s*([0-9]+)", combination)) is not None:
                self.needed[i] = int(match.group(1))
            else:
                self.needed[i] = total
                static[i].append(
                    Flag(
                        "ill_formed",
                        ERROR,
                        i,
                        None,
                        "combination",
                        f"{i} combines its children by {combination!r}, which is not all, any "
                        "or at_least:<k>; it is read as all.",
                    )
                )
        self.static_flags = {n: sorted(fs, key=_flag_key) for n, fs in static.items()}

    def _relation_key(self, rel: Relation) -> tuple[Any, ...]:
        rank = self.rank
        missing = len(rank)
        return (
            rank.get(rel.source, missing),
            rel.source,
            rank.get(rel.target, missing),
            rel.target,
            rel.type,
            rel.target_relation,
        )


def _children_first(
    ids: list[str], deps: dict[str, set[str]], dependents: dict[str, list[str]]
) -> tuple[list[str], frozenset[str]]:
    pending = {i: len(deps[i]) for i in ids}
    ready = [i for i in reversed(ids) if pending[i] == 0]
    order: list[str] = []
    done: set[str] = set()

    def drain() -> None:
        while ready:
            node = ready.pop()
            order.append(node)
            done.add(node)
            for d in dependents.get(node, ()):
                pending[d] -= 1
                if pending[d] == 0:
                    ready.append(d)

    drain()
    cyclic: set[str] = set()
    if len(order) < len(ids):
        remaining = [i for i in ids if i not in done]
        cyclic = _on_cycles(remaining, deps, dependents)
        for node in remaining:
            if node in cyclic:
                order.append(node)
                done.add(node)
        for node in remaining:
            if node in cyclic:
                for d in dependents.get(node, ()):
                    if d not in cyclic:
                        pending[d] -= 1
                        if pending[d] == 0:
                            ready.append(d)
        drain()
    return order, frozenset(cyclic)


def _on_cycles(
    remaining: list[str], deps: dict[str, set[str]], dependents: dict[str, list[str]]
) -> set[str]:
    """Nodes of `remaining` in a strongly connected component with a cycle (iterative
    Kosaraju over the dependency edges)."""
    members = set(remaining)
    seen: set[str] = set()
    finished: list[str] = []
    for start in remaining:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(sorted(deps[start])))]
        while stack:
            node, it = stack[-1]
            for nxt in it:
                if nxt in members and nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, iter(sorted(deps[nxt]))))
                    break
            else:
                stack.pop()
                finished.append(node)
    assigned: set[str] = set()
    cyclic: set[str] = set()
    for start in reversed(finished):
        if start in assigned:
            continue
        component = [start]
        assigned.add(start)
        stack = [start]
        while stack:
            node = stack.pop()
            for nxt in dependents.get(node, ()):
                if nxt in members and nxt not in assigned:
                    assigned.add(nxt)
                    component.append(nxt)
                    stack.append(nxt)
        if len(component) > 1:
            cyclic.update(component)
    return cyclic


class _RootRules:
    """The parsed `root_rules` attribute of a top goal (see library/root.yaml)."""

    def __init__(self, raw: Mapping[str, Any], expression: Any) -> None:
        self.problem = ""
        self.threshold = raw.get("threshold")
        outcomes = raw.get("outcomes")
        self.outcomes = list(outcomes) if isinstance(outcomes, list | tuple) else []
        self.factors: list[dict[str, Any]] = []
        for factor in raw.get("factors") or ():
            if isinstance(factor, Mapping) and factor.get("id") is not None:
                self.factors.append(dict(factor))
        self.goals = [str(f.get("goal", "")) for f in self.factors]
        self.rules: list[tuple[str, str, str, str, _Expression]] = []
        for index, rule in enumerate(raw.get("rules") or (), start=1):
            if not isinstance(rule, Mapping):
                continue
            code = str(rule.get("code") or f"rule {index}")
            flag = str(rule.get("flag") or "criterion_failed")
            if flag not in FLAG_TYPES:
                flag = "criterion_failed"
            statement = " ".join(str(rule.get("statement") or "").split())
            self.rules.append(
                (
                    code,
                    flag,
                    statement,
                    str(rule.get("check") or ""),
                    expression(str(rule.get("check") or ""), root=True),
                )
            )
        if not isinstance(self.threshold, int | float) or isinstance(self.threshold, bool):
            self.problem = f"its threshold {self.threshold!r} is not a number"


# --------------------------------------------------------------------------------------------
# Outcomes of bindings, assumptions and nodes


@dataclass(frozen=True)
class _Outcome:
    status: str
    reason: str  # a sentence about the node, from this binding's point of view
    flags: tuple[Flag, ...]
    run: RunFacts | None = None  # the evidence run (solutions' criteria)
    stat: _Stat | None = None
    valid_from: float = -math.inf
    valid_to: float = math.inf
    view: _View | None = None  # assumptions: how the nodes in their scope see them

    def same(self, other: _Outcome | None) -> bool:
        return (
            other is not None
            and self.status == other.status
            and self.reason == other.reason
            and self.flags == other.flags
            and self.run is other.run
        )


@dataclass(frozen=True)
class _State:
    status: str | None
    reason: str
    flags: tuple[Flag, ...]


@dataclass
class _Selection:
    run: RunFacts | None
    mismatched: list[RunFacts]
    stale: list[tuple[RunFacts, float | None]]  # (run, age in days or None without a time)
    unsuccessful: list[RunFacts]
    valid_to: float


class _ScopeTargets:
    """The evidence runs of the solutions in an assumption's scope, deduplicated by (run id,
    statistic) and kept up to date solution by solution."""

    __slots__ = ("pending", "per_solution", "refs", "solutions_of", "targets")

    def __init__(self) -> None:
        self.per_solution: dict[str, tuple[tuple[Any, RunFacts, _Stat], ...]] = {}
        self.refs: dict[Any, int] = {}
        self.targets: dict[Any, tuple[RunFacts, _Stat]] = {}
        # key -> the solutions whose evidence it is: a failing run defeats the goals above them.
        self.solutions_of: dict[Any, set[str]] = {}
        self.pending: set[Any] = set()  # keys changed since the checks last looked

    def set_solution(self, sol: str, targets: tuple[tuple[Any, RunFacts, _Stat], ...]) -> None:
        old = self.per_solution.get(sol, ())
        if old == targets:
            return
        old_keys = {key for key, _, _ in old}
        new_keys = {key for key, _, _ in targets}
        for key in old_keys - new_keys:
            holders = self.solutions_of[key]
            holders.discard(sol)
            if not holders:
                del self.solutions_of[key]
        for key in new_keys - old_keys:
            self.solutions_of.setdefault(key, set()).add(sol)
        for key, _, _ in old:
            self.refs[key] -= 1
            if not self.refs[key]:
                del self.refs[key]
                del self.targets[key]
                self.pending.add(key)
        for key, run, stat in targets:
            self.refs[key] = self.refs.get(key, 0) + 1
            current = self.targets.get(key)
            if current is None or current[0] is not run:
                self.targets[key] = (run, stat)
                self.pending.add(key)
        if targets:
            self.per_solution[sol] = targets
        else:
            self.per_solution.pop(sol, None)


class _CheckResults:
    """One check's verdicts over its runs: which are false and which could not be evaluated."""

    __slots__ = ("errored", "failing", "now")

    def __init__(self) -> None:
        self.failing: dict[Any, tuple[RunFacts, _Stat]] = {}
        self.errored: dict[Any, tuple[RunFacts, _Stat, str]] = {}
        self.now: float | None = None

    def record(self, key: Any, run: RunFacts, stat: _Stat, result: tuple[bool, Any]) -> None:
        ok, value = result
        self.failing.pop(key, None)
        self.errored.pop(key, None)
        if ok and value is True:
            return
        if ok and value is False:
            self.failing[key] = (run, stat)
        else:
            problem = f"it evaluated to {value!r}, not true or false" if ok else value.rstrip(".")
            self.errored[key] = (run, stat, problem)

    def forget(self, key: Any) -> None:
        self.failing.pop(key, None)
        self.errored.pop(key, None)

    def sorted_failing(self) -> list[tuple[RunFacts, _Stat]]:
        return [self.failing[k] for k in sorted(self.failing, key=_target_key)]

    def sorted_errored(self) -> list[tuple[RunFacts, _Stat, str]]:
        return [self.errored[k] for k in sorted(self.errored, key=_target_key)]


def _target_key(key: tuple[Any, str]) -> tuple[Any, ...]:
    return (_id_key(key[0]), key[1])


@dataclass(frozen=True)
class _View:
    """An assumption as the goals and strategies in its scope see it. A check with a selector
    reads the assumption's own evidence, and attestations and unverified checks are about the
    assumption as a whole: they concern every node in its scope (`broad`). A check with an
    empty selector reads the evidence of the solutions in the scope, and its verdict on a run
    concerns only the nodes above that run's solutions."""

    own_violated: bool = False
    # The status apart from the empty-selector checks' verdicts on particular runs.
    residual: str = SUPPORTED
    # node -> ids of the runs at or below it that fail (are errored on) an empty-selector check.
    failing_below: Mapping[str, frozenset[Any]] = field(default_factory=dict)
    errored_below: Mapping[str, frozenset[Any]] = field(default_factory=dict)

    @property
    def broad(self) -> tuple[bool, str]:
        return self.own_violated, self.residual

    def status_for(self, node: str) -> str:
        if self.own_violated or node in self.failing_below:
            return DEFEATED
        if node in self.errored_below:
            return AT_RISK
        return self.residual

    def nodes_changed_from(self, other: _View) -> set[str]:
        """The nodes that see this view differently from `other` (same `broad`)."""
        changed: set[str] = set()
        for mine, theirs in (
            (self.failing_below, other.failing_below),
            (self.errored_below, other.errored_below),
        ):
            if mine != theirs:
                changed.update(
                    n for n in mine.keys() | theirs.keys() if mine.get(n) != theirs.get(n)
                )
        return changed


_HOLDS = _View()


# --------------------------------------------------------------------------------------------
# The engine


class AssessmentCache:
    """What `assess` may reuse between calls for one case. Keep one per case (not shared
    between threads); any input change is detected, so a stale cache cannot give a wrong
    result, only a slower one."""

    _MAX_EVALUATIONS = 500_000
    _MAX_EXPRESSIONS = 20_000

    def __init__(self) -> None:
        self._expressions: dict[tuple[str, bool], _Expression] = {}
        self._evaluations: dict[tuple[Any, ...], tuple[RunFacts, Any, tuple[bool, Any]]] = {}
        self._structure: _Structure | None = None
        self._structure_key: tuple[Any, ...] | None = None
        self._case: CaseFacts | None = None
        self._now: float | None = None
        self._runs: dict[Any, RunFacts] = {}
        self._task_runs: dict[str, dict[Any, RunFacts]] = defaultdict(dict)
        self._by_task: dict[str, list[RunFacts]] = {}
        self._all_runs: list[RunFacts] | None = None
        self._bindings: dict[Any, _Outcome] = {}
        self._assumptions: dict[str, _Outcome] = {}
        self._attestations: dict[str, tuple[AttestationFacts, ...]] = {}
        self._states: dict[str, _State] = {}
        self._scope: dict[str, _ScopeTargets] = {}
        self._check_results: dict[Any, _CheckResults] = {}

    # -- expressions ----------------------------------------------------------------------

    def _expression(self, text: str, root: bool = False) -> _Expression:
        key = (text, root)
        found = self._expressions.get(key)
        if found is not None:
            return found
        if len(self._expressions) >= self._MAX_EXPRESSIONS:
            self._expressions.clear()
        try:
            if root:
                compiled = criteria.compile_expression(text, variables=ROOT_RULE_VARIABLES)
            else:
                compiled = criteria.compile_expression(text)
            error = ""
        except criteria.ExpressionError as exc:
            compiled, error = None, str(exc)
        except Exception as exc:  # defensive
            compiled, error = None, f"The expression could not be compiled: {exc}."
        variables = compiled.variables if compiled is not None else frozenset()
        bound, upper = _shape(text) if compiled is not None else (None, False)
        found = _Expression(
            text=text,
            compiled=compiled,
            error=error,
            uses_age="age_days" in variables,
            uses_counts=bool(variables & {"k", "n", "rate"}),
            bound=bound,
            upper_claim=upper,
        )
        self._expressions[key] = found
        return found

    def _evaluate_on(
        self,
        expression: _Expression,
        run: RunFacts,
        stat: _Stat,
        now_ts: float,
        counts: tuple[int, int] | None = None,
    ) -> tuple[bool, Any]:
        """The expression on a run (with k/n replaced by `counts` for the statistical
        guards), memoised by expression, run, statistic, counts and — only when the
        expression uses it — the run's age."""
        key = (expression.text, run.id, stat.key, counts)
        age = None
        if expression.uses_age and run.finished_at is not None:
            age = (now_ts - _ts(run.finished_at)) / _DAY
        hit = self._evaluations.get(key)
        if hit is not None and (hit[0] is run or hit[0] == run) and hit[1] == age:
            return hit[2]
        variables = _run_variables(run, stat, now_ts)
        if counts is not None:
            variables = _with_counts(variables, *counts)
        result = _evaluate(expression, variables)
        if len(self._evaluations) >= self._MAX_EVALUATIONS:
            self._evaluations.clear()
        self._evaluations[key] = (run, age, result)
        return result

    # -- the pass -------------------------------------------------------------------------

    def _assess(
        self,
        case: CaseFacts,
        nodes: tuple[NodeFacts, ...],
        relations: tuple[Relation, ...],
        bindings: tuple[BindingFacts, ...],
        runs: tuple[RunFacts, ...],
        attestations: tuple[AttestationFacts, ...],
        now: datetime,
    ) -> Assessment:
        now_ts = _ts(now)
        full = False
        key = (nodes, relations, bindings)
        if self._structure is None or self._structure_key != key:
            self._structure = _Structure(nodes, relations, bindings, self._expression)
            self._structure_key = key
            full = True
        if case != self._case or self._now is None or now_ts < self._now:
            full = True
        s = self._structure
        self._case = case
        self._now = now_ts

        changed_tasks, any_run_changed = self._update_runs(runs, full)

        # Bindings to (re)compute.
        if full:
            self._bindings.clear()
            self._assumptions.clear()
            self._states.clear()
            dirty = set(s.bindings)
        else:
            dirty = set()
            for task in changed_tasks:
                dirty.update(s.bindings_by_task.get(task, ()))
            if any_run_changed:
                dirty.update(s.bindings_any_task)
            for bid, outcome in self._bindings.items():
                if not outcome.valid_from <= now_ts <= outcome.valid_to:
                    dirty.add(bid)

        dirty_nodes: set[str] = set()
        run_changed_solutions: set[str] = set()
        for bid in dirty:
            binding = s.bindings[bid]
            node = s.nodes.get(binding.node)
            if node is None or node.type not in (SOLUTION, ASSUMPTION):
                continue
            previous = self._bindings.get(bid)
            if node.type == SOLUTION:
                outcome = self._criterion(binding, s.expressions[bid], case, now_ts)
            else:
                outcome = self._check_selection(binding, s.expressions[bid], case, now_ts)
            self._bindings[bid] = outcome
            if not outcome.same(previous):
                dirty_nodes.add(binding.node)
                if node.type == SOLUTION and (previous is None or previous.run is not outcome.run):
                    run_changed_solutions.add(binding.node)

        # The evidence runs in each assumption's scope.
        if full:
            self._scope = {a: _ScopeTargets() for a in s.scope_solutions}
            self._check_results = {}
            for a, sols in s.scope_solutions.items():
                store = self._scope[a]
                for sol in sols:
                    store.set_solution(sol, self._solution_targets(sol))
        else:
            for sol in run_changed_solutions:
                targets = self._solution_targets(sol)
                for a in s.assumptions_of_solution.get(sol, ()):
                    self._scope[a].set_solution(sol, targets)

        # Assumptions to (re)compute.
        by_node: dict[str, list[AttestationFacts]] = defaultdict(list)
        for att in attestations:
            by_node[att.node].append(att)
        attested = {
            n: tuple(sorted(v, key=lambda a: (_id_key(a.id), a.by, _ts(a.expires_at))))
            for n, v in by_node.items()
        }
        if full:
            dirty_assumptions = set(s.assumption_ids)
        else:
            dirty_assumptions = {a for a in s.assumption_ids if a in dirty_nodes}
            for sol in run_changed_solutions:
                dirty_assumptions.update(s.assumptions_of_solution.get(sol, ()))
            for a in s.assumption_ids:
                if attested.get(a, ()) != self._attestations.get(a, ()):
                    dirty_assumptions.add(a)
                outcome = self._assumptions.get(a)
                if outcome is None or not outcome.valid_from <= now_ts <= outcome.valid_to:
                    dirty_assumptions.add(a)
        self._attestations = attested
        changed_assumptions: list[str] = []
        seen_differently: set[str] = set()  # nodes for which only part of a view changed
        for a in sorted(dirty_assumptions, key=s.rank.__getitem__):
            previous = self._assumptions.get(a)
            outcome = self._assumption(a, attested.get(a, ()), now_ts)
            self._assumptions[a] = outcome
            state = _State(outcome.status, outcome.reason, outcome.flags)
            if self._states.get(a) != state:
                self._states[a] = state
            if (
                previous is None
                or previous.status != outcome.status
                or previous.view.broad != outcome.view.broad
            ):
                changed_assumptions.append(a)
            elif previous.view != outcome.view:
                # The same status, but the failing runs moved: only the nodes above the runs
                # that came or went see a change.
                seen_differently |= outcome.view.nodes_changed_from(previous.view)

        # Support nodes, children first; only what can have changed unless this is a full pass.
        if full:
            for node in s.order:
                self._states[node] = self._support_state(node)
        else:
            heap: list[tuple[int, str]] = []
            queued: set[str] = set()

            def push(node: str) -> None:
                if node not in queued:
                    queued.add(node)
                    heapq.heappush(heap, (s.position[node], node))

            for node in dirty_nodes:
                if node in s.position:
                    push(node)
            for a in changed_assumptions:
                for node in s.in_scope_of.get(a, ()):
                    push(node)
            for node in seen_differently:
                if node in s.position:
                    push(node)
            while heap:
                _, node = heapq.heappop(heap)
                queued.discard(node)
                previous = self._states.get(node)
                state = self._support_state(node)
                if state != previous:
                    self._states[node] = state
                    if previous is None or previous.status != state.status:
                        for d in s.dependents.get(node, ()):
                            push(d)

        return self._result()

    def _update_runs(self, runs: tuple[RunFacts, ...], full: bool) -> tuple[set[str], bool]:
        current: dict[Any, RunFacts] = {}
        for run in runs:
            if run.status != INGESTED:
                continue
            other = current.get(run.id)
            if other is None or (_run_sort_key(run), repr(run)) > (
                _run_sort_key(other),
                repr(other),
            ):
                current[run.id] = run
        changed_tasks: set[str] = set()
        if full or not self._runs:
            self._task_runs = defaultdict(dict)
            for run in current.values():
                self._task_runs[run.task][run.id] = run
            changed_tasks = set(self._task_runs)
            self._by_task = {}
        else:
            previous = self._runs
            for rid, run in current.items():
                old = previous.get(rid)
                if old is run:
                    continue
                if old is not None and old == run:
                    continue
                if old is not None:
                    changed_tasks.add(old.task)
                    self._task_runs[old.task].pop(rid, None)
                changed_tasks.add(run.task)
                self._task_runs[run.task][rid] = run
            for rid, old in previous.items():
                if rid not in current:
                    changed_tasks.add(old.task)
                    self._task_runs[old.task].pop(rid, None)
        self._runs = current
        for task in changed_tasks:
            members = self._task_runs.get(task, {})
            self._by_task[task] = sorted(members.values(), key=_run_sort_key, reverse=True)
        if changed_tasks or full:
            self._all_runs = None
        return changed_tasks, bool(changed_tasks)

    # -- selection ------------------------------------------------------------------------

    def _candidates(self, selector: Mapping[str, Any]) -> Iterable[RunFacts]:
        task = selector.get("task")
        if task in (None, ""):
            if self._all_runs is None:
                self._all_runs = sorted(self._runs.values(), key=_run_sort_key, reverse=True)
            return self._all_runs
        if isinstance(task, list | tuple):
            merged = [r for t in {str(t) for t in task} for r in self._by_task.get(t, ())]
            return sorted(merged, key=_run_sort_key, reverse=True)
        return self._by_task.get(str(task), ())

    def _select(self, binding: BindingFacts, case: CaseFacts, now_ts: float) -> _Selection:
        selector = binding.selector or {}
        freshness = binding.freshness_days
        mismatched: list[RunFacts] = []
        stale: list[tuple[RunFacts, float | None]] = []
        unsuccessful: list[RunFacts] = []
        for run in self._candidates(selector):
            if not _selector_matches(selector, run):
                continue
            if not _model_matches(selector, run, case):
                mismatched.append(run)
                continue
            if run.log_status != SUCCESS:
                unsuccessful.append(run)
                continue
            if freshness is not None:
                if run.finished_at is None:
                    stale.append((run, None))
                    continue
                finished = _ts(run.finished_at)
                fresh_until = finished + freshness * _DAY
                if now_ts > fresh_until:
                    stale.append((run, (now_ts - finished) / _DAY))
                    continue
                return _Selection(run, mismatched, stale, unsuccessful, fresh_until)
            return _Selection(run, mismatched, stale, unsuccessful, _FOREVER)
        valid_to = now_ts if any(age is not None for _, age in stale) else _FOREVER
        return _Selection(None, mismatched, stale, unsuccessful, valid_to)

    def _no_evidence_flags(
        self, node: str, binding: BindingFacts, sel: _Selection, case: CaseFacts
    ) -> tuple[list[Flag], str]:
        """model_mismatch / stale_evidence flags and the detail clause for a binding without
        an eligible run."""
        selector = binding.selector or {}
        what = _task_text(selector)
        model, version = _expected_model(selector, case)
        target = f"model {model!r}" if model else "any model"
        if version:
            target += f" version {version!r}"
        flags: list[Flag] = []
        details: list[str] = []
        if sel.mismatched:
            latest = sel.mismatched[0]
            others = len(sel.mismatched) - 1
            evaluated = f"model {latest.model!r}" if latest.model else "an unnamed model"
            if latest.model_version:
                evaluated += f" version {latest.model_version!r}"
            more = f" (and {_plural(others, 'other run')})" if others else ""
            flags.append(
                Flag(
                    "model_mismatch",
                    WARNING,
                    node,
                    latest.id,
                    "A04",
                    f"{node}: run {latest.id} of {what} evaluated {evaluated}, not {target}, so "
                    f"it cannot be evidence for this case{more}.",
                )
            )
            details.append(f"run {latest.id} evaluated {evaluated}")
        if sel.stale:
            latest, age = sel.stale[0]
            if age is None:
                text = f"run {latest.id} of {what} has no finish time, so its age is unknown"
            else:
                text = (
                    f"the latest run of {what}, run {latest.id}, finished {age:.0f} days ago "
                    f"({_date(_ts(latest.finished_at))})"
                )
            flags.append(
                Flag(
                    "stale_evidence",
                    WARNING,
                    node,
                    latest.id,
                    "A05",
                    f"{node}: {text}, outside the {binding.freshness_days:g}-day freshness window "
                    "of its evidence.",
                )
            )
            details.append(
                f"run {latest.id} is older than {binding.freshness_days:g} days"
                if age is not None
                else f"run {latest.id} has no finish time"
            )
        if sel.unsuccessful:
            latest = sel.unsuccessful[0]
            details.append(f"run {latest.id} ended with status {latest.log_status or 'unknown'}")
        return flags, ("; " + "; ".join(details)) if details else ""

    # -- solutions ------------------------------------------------------------------------

    def _criterion(
        self, binding: BindingFacts, expression: _Expression, case: CaseFacts, now_ts: float
    ) -> _Outcome:
        node = binding.node
        text = expression.text
        if expression.compiled is None:
            message = f"{node}: the criterion {_quoted(text)} cannot be used: {expression.error}"
            return _Outcome(
                AT_RISK,
                f"{node} is at risk: its criterion {_quoted(text)} does not compile.",
                (Flag("criterion_error", WARNING, node, None, "", message),),
            )
        selector = binding.selector or {}
        sel = self._select(binding, case, now_ts)
        run = sel.run
        if run is None:
            flags, details = self._no_evidence_flags(node, binding, sel, case)
            what = _task_text(selector)
            model, version = _expected_model(selector, case)
            target = f" on {model}" + (f" version {version}" if version else "") if model else ""
            window = (
                f" within {binding.freshness_days:g} days"
                if binding.freshness_days is not None
                else ""
            )
            flags.insert(
                0,
                Flag(
                    "missing_evidence",
                    WARNING,
                    node,
                    None,
                    "",
                    f"{node}: no successful run of {what}{target}{window} is available as "
                    f"evidence{details}.",
                ),
            )
            return _Outcome(
                AT_RISK,
                f"{node} is at risk: it has no eligible run of {what}{target}{window}.",
                tuple(sorted(flags, key=_flag_key)),
                valid_from=now_ts,
                valid_to=sel.valid_to,
            )

        stat = _statistic(run, selector)
        valid_to = now_ts if expression.uses_age else sel.valid_to
        ok, value = self._evaluate_on(expression, run, stat, now_ts)
        flags: list[Flag] = []
        described = _run_text(run, stat)
        if not ok or not isinstance(value, bool):
            if ok:
                problem = f"it evaluated to {value!r}, not true or false"
            else:
                problem = value.rstrip(".")
            note = f" ({stat.note})" if stat.note else ""
            flags.append(
                Flag(
                    "criterion_error",
                    WARNING,
                    node,
                    run.id,
                    "",
                    f"{node}: the criterion could not be checked on {described}: {problem}{note}.",
                )
            )
            status = AT_RISK
            reason = (
                f"{node} is at risk: its criterion {_quoted(text)} could not be checked on "
                f"{described}."
            )
        elif value:
            status = SUPPORTED
            reason = f"{node} is supported: {described} meets the criterion {_quoted(text)}."
        else:
            status = DEFEATED
            reason = f"{node} is defeated: {described} does not meet the criterion {_quoted(text)}."
            flags.append(
                Flag(
                    "criterion_failed",
                    ERROR,
                    node,
                    run.id,
                    "",
                    f"{node}: {described} does not meet the criterion {_quoted(text)}.",
                )
            )

        counted = ok and isinstance(value, bool) and stat.k is not None
        # insufficient_samples (A06)
        if counted:
            flag = self._sample_size_flag(node, expression, run, stat, now_ts, value)
            if flag is not None:
                flags.append(flag)
        # biased_estimator
        meta = run.metadata or {}
        estimator = meta.get("estimator")
        if isinstance(estimator, str) and estimator in BIASED_ESTIMATORS and expression.upper_claim:
            method = "the milestone method" if estimator == "milestone" else "expert best-of-N"
            flags.append(
                Flag(
                    "biased_estimator",
                    WARNING,
                    node,
                    run.id,
                    "",
                    f"{node}: the estimate of run {run.id} comes from {method}, which is known to "
                    "underestimate, so it cannot support the upper bound in "
                    f"{_quoted(text)} on its own.",
                )
            )
            if status == SUPPORTED:
                status = AT_RISK
                reason = (
                    f"{node} is at risk: {described} meets the criterion, but its estimate comes "
                    f"from {method}, which cannot support an upper bound."
                )
        # run_errors
        errors = int(run.error_count or 0)
        if errors > 0:
            robust = None
            if counted and expression.uses_counts:
                k, n = stat.k, stat.n
                high = self._evaluate_on(expression, run, stat, now_ts, (k + errors, n + errors))
                low = self._evaluate_on(expression, run, stat, now_ts, (k, n + errors))
                robust = high == (True, True) and low == (True, True)
            samples = f" of {run.sample_count}" if run.sample_count else ""
            if robust is None:
                tail = "they are not part of its results."
            elif robust:
                tail = (
                    f"they are left out of k/n = {stat.k}/{stat.n}, and the criterion would "
                    "hold whichever way they had gone."
                )
            else:
                tail = (
                    f"they are left out of k/n = {stat.k}/{stat.n}, and the criterion would not "
                    "hold if they had gone the other way."
                )
            flags.append(
                Flag(
                    "run_errors",
                    WARNING,
                    node,
                    run.id,
                    "",
                    f"{node}: run {run.id} has {_plural(errors, 'errored sample')}{samples}; "
                    f"{tail}",
                )
            )
            if robust is False and status == SUPPORTED:
                status = AT_RISK
                reason = (
                    f"{node} is at risk: {described} meets the criterion, but its "
                    f"{_plural(errors, 'errored sample')} could change the result."
                )
        return _Outcome(
            status,
            reason,
            tuple(sorted(flags, key=_flag_key)),
            run=run,
            stat=stat,
            valid_from=now_ts,
            valid_to=valid_to,
        )

    def _sample_size_flag(
        self,
        node: str,
        expression: _Expression,
        run: RunFacts,
        stat: _Stat,
        now_ts: float,
        value: bool,
    ) -> Flag | None:
        n = stat.n or 0
        if expression.bound is not None:
            t, c = expression.bound
            needed = _needed(t, c)
            if needed is not None and n < needed:
                return Flag(
                    "insufficient_samples",
                    WARNING,
                    node,
                    run.id,
                    "A06",
                    f"A06: {_plural(n, 'sample')} (run {run.id}) cannot show a rate below "
                    f"{_pct(t)} at {_pct(c)} confidence; at least {needed} are needed "
                    f"({node}, criterion {_quoted(expression.text)}).",
                )
        if (
            value
            or not expression.uses_counts
            or not ({"k", "rate"} & expression.compiled.variables)
        ):
            return None
        none_ = self._evaluate_on(expression, run, stat, now_ts, (0, n))
        all_ = self._evaluate_on(expression, run, stat, now_ts, (n, n))
        if none_ == (True, False) and all_ == (True, False):
            return Flag(
                "insufficient_samples",
                WARNING,
                node,
                run.id,
                "A06",
                f"A06: no outcome of the {_plural(n, 'sample')} of run {run.id} could meet the "
                f"criterion {_quoted(expression.text)} (it is false with 0 and with {n} "
                "successes); "
                f"more samples are needed ({node}).",
            )
        return None

    # -- assumptions ----------------------------------------------------------------------

    def _check_selection(
        self, binding: BindingFacts, expression: _Expression, case: CaseFacts, now_ts: float
    ) -> _Outcome:
        """For a check with a selector: its run and the detail flags when it has none. A check
        with an empty selector is evaluated by the assumption on its scope's runs."""
        node = binding.node
        if expression.compiled is None or not (binding.selector or {}):
            return _Outcome(AT_RISK, "", (), valid_from=-math.inf, valid_to=math.inf)
        sel = self._select(binding, case, now_ts)
        if sel.run is None:
            flags, details = self._no_evidence_flags(node, binding, sel, case)
            return _Outcome(
                AT_RISK,
                f"there is no eligible run of {_task_text(binding.selector)}{details}",
                tuple(flags),
                valid_from=now_ts,
                valid_to=sel.valid_to,
            )
        stat = _statistic(sel.run, binding.selector)
        valid_to = now_ts if expression.uses_age else sel.valid_to
        return _Outcome(
            SUPPORTED, "", (), run=sel.run, stat=stat, valid_from=now_ts, valid_to=valid_to
        )

    def _assumption(
        self, a: str, attestations: tuple[AttestationFacts, ...], now_ts: float
    ) -> _Outcome:
        s = self._structure
        node = s.nodes[a]
        checks = s.node_bindings.get(a, [])
        flags: list[Flag] = []
        valid_from, valid_to = now_ts, _FOREVER
        violated: list[tuple[BindingFacts, list[tuple[RunFacts, _Stat]]]] = []
        unverified: list[str] = []
        held = 0
        # For the view from the nodes in scope: what concerns them all, and the runs on which
        # an empty-selector check is false or cannot be evaluated (which concern only the nodes
        # above those runs).
        own_violated = broadly_unverified = False
        failing_keys: set[Any] = set()
        errored_keys: set[Any] = set()
        for binding in checks:
            expression = s.expressions[binding.id]
            text = expression.text
            if expression.compiled is None:
                flags.append(
                    Flag(
                        "criterion_error",
                        WARNING,
                        a,
                        None,
                        "",
                        f"{a}: the check {_quoted(text)} cannot be used: {expression.error}",
                    )
                )
                unverified.append(f"its check {_quoted(text)} does not compile")
                broadly_unverified = True
                continue
            if binding.selector:
                selection = self._bindings.get(binding.id)
                if selection is None:  # pragma: no cover - computed before assumptions
                    selection = self._check_selection(binding, expression, self._case, now_ts)
                valid_to = min(valid_to, selection.valid_to)
                if selection.run is None:
                    flags.extend(selection.flags)
                    unverified.append(f"for its check {_quoted(text)} {selection.reason}")
                    broadly_unverified = True
                    continue
                results = _CheckResults()
                results.record(
                    (selection.run.id, selection.stat.key),
                    selection.run,
                    selection.stat,
                    self._evaluate_on(expression, selection.run, selection.stat, now_ts),
                )
            else:
                store = self._scope.get(a)
                if store is None or not store.targets:
                    self._check_results.pop(binding.id, None)
                    unverified.append(
                        f"its check {_quoted(text)} has no evidence run to check: no solution "
                        "in its scope has an eligible run"
                    )
                    broadly_unverified = True
                    continue
                results = self._scope_check(binding.id, expression, store, now_ts)
                failing_keys.update(results.failing)
                errored_keys.update(results.errored)
            if expression.uses_age:
                valid_to = min(valid_to, now_ts)
            failing = results.sorted_failing()
            errored = results.sorted_errored()
            if binding.selector and (failing or errored):
                own_violated = own_violated or bool(failing)
                broadly_unverified = broadly_unverified or not failing
            if failing:
                violated.append((binding, failing))
            elif errored:
                run, _, problem = errored[0]
                more = (
                    f" (and on {_plural(len(errored) - 1, 'other run')})"
                    if len(errored) > 1
                    else ""
                )
                flags.append(
                    Flag(
                        "criterion_error",
                        WARNING,
                        a,
                        run.id,
                        "",
                        f"{a}: the check could not be evaluated on run {run.id}: {problem}{more}.",
                    )
                )
                unverified.append(
                    f"its check {_quoted(text)} could not be evaluated on run {run.id}"
                )
            else:
                held += 1

        # Attestations.
        valid_att: list[AttestationFacts] = []
        expired: list[AttestationFacts] = []
        for att in attestations:
            created = _ts(att.created_at) if att.created_at is not None else -math.inf
            expires = _ts(att.expires_at) if att.expires_at is not None else math.inf
            if created > now_ts:
                valid_to = min(valid_to, math.nextafter(created, -math.inf))
                continue
            if now_ts < expires:
                valid_att.append(att)
                valid_to = min(valid_to, math.nextafter(expires, -math.inf))
            else:
                expired.append(att)
        if expired and not valid_att:
            latest = max(expired, key=lambda x: (_ts(x.expires_at), _id_key(x.id)))
            flags.append(
                Flag(
                    "attestation_expired",
                    WARNING,
                    a,
                    None,
                    "",
                    f"{a}: the attestation by {latest.by} expired on "
                    f"{_date(_ts(latest.expires_at))}; a reviewer needs to attest it again.",
                )
            )

        requires = bool((node.attributes or {}).get("requires_attestation"))
        if violated:
            status = DEFEATED
            for binding, failing in violated:
                run, stat = failing[0]
                others = [str(r.id) for r, _ in failing[1:]]
                more = (
                    f" and on {_plural(len(others), 'other run')} ({_join(others, 4)})"
                    if others
                    else ""
                )
                flags.append(
                    Flag(
                        "assumption_violated",
                        ERROR,
                        a,
                        run.id,
                        node.catalogue_id,
                        f"{a} does not hold: its check "
                        f"{_quoted(s.expressions[binding.id].text)} is "
                        f"false on {_run_text(run, stat)}{more}.",
                    )
                )
            binding, failing = violated[0]
            reason = (
                f"{a} is violated: its check {_quoted(s.expressions[binding.id].text)} is false on "
                f"{_run_text(*failing[0])}."
            )
        elif valid_att:
            status = SUPPORTED
            att = valid_att[0]
            until = (
                f"until {_date(_ts(att.expires_at))}"
                if att.expires_at is not None
                else "without expiry"
            )
            reason = f"{a} holds: {att.by} attested it ({until})."
        elif requires or unverified or not checks or held < len(checks):
            status = AT_RISK
            if requires:
                why = "it requires a reviewer's attestation and has no valid one"
                if expired:
                    why += " (the last one expired)"
            elif unverified:
                why = unverified[0]
            else:
                why = "it has no checks and no attestation"
            flags.append(
                Flag(
                    "assumption_unverified",
                    WARNING,
                    a,
                    None,
                    node.catalogue_id,
                    f"{a} is unverified: {why}.",
                )
            )
            reason = f"{a} is at risk: it is unverified because {why}."
        else:
            status = SUPPORTED
            reason = (
                f"{a} holds: {_plural(held, 'check')} {'is' if held == 1 else 'are'} true on "
                "every run they apply to."
            )
        view = _HOLDS
        if status != SUPPORTED:
            if own_violated:
                residual = DEFEATED
            elif valid_att:
                residual = SUPPORTED
                errored_keys = set()  # a reviewer's word outweighs a check that cannot be read
            elif requires or broadly_unverified or not checks:
                residual = AT_RISK
            else:
                residual = SUPPORTED
            view = _View(
                own_violated,
                residual,
                self._nodes_above(a, failing_keys) if not own_violated else {},
                self._nodes_above(a, errored_keys - failing_keys) if not own_violated else {},
            )
        store = self._scope.get(a)
        if store is not None:
            store.pending.clear()
        return _Outcome(
            status,
            reason,
            tuple(sorted(set(flags), key=_flag_key)),
            valid_from=valid_from,
            valid_to=valid_to,
            view=view,
        )

    def _nodes_above(self, a: str, keys: set[Any]) -> dict[str, frozenset[Any]]:
        """The goals and strategies in `a`'s scope above the solutions whose evidence runs are
        `keys`, each with the ids of those runs. Walks up from the (usually few) runs, children
        first, so each node passes on all the runs below it once."""
        if not keys:
            return {}
        s = self._structure
        scope, parents, position = s.scope, s.parents, s.position
        solutions_of = self._scope[a].solutions_of
        found: dict[str, set[Any]] = {}
        for key in keys:
            run_id = key[0]
            for sol in solutions_of.get(key, ()):
                for p in parents.get(sol, ()):
                    mine = found.get(p)
                    if mine is None:
                        if a in scope.get(p, ()):
                            found[p] = {run_id}
                    else:
                        mine.add(run_id)
        heap = [(position[p], p) for p in found]
        heapq.heapify(heap)
        queued = set(found)
        while heap:
            _, node = heapq.heappop(heap)
            queued.discard(node)
            run_ids = found[node]
            for p in parents.get(node, ()):
                mine = found.get(p)
                if mine is None:
                    if a not in scope.get(p, ()):
                        continue
                    found[p] = set(run_ids)
                elif run_ids <= mine:
                    continue
                else:
                    mine |= run_ids
                # (A node on a supported_by cycle can be reached again with more runs.)
                if p not in queued:
                    queued.add(p)
                    heapq.heappush(heap, (position[p], p))
        return {node: frozenset(ids) for node, ids in found.items()}

    def _solution_targets(self, sol: str) -> tuple[tuple[Any, RunFacts, _Stat], ...]:
        """The evidence runs of a solution, as (key, run, statistic) for scope checks."""
        out = []
        for binding in self._structure.node_bindings.get(sol, ()):
            outcome = self._bindings.get(binding.id)
            if outcome is not None and outcome.run is not None:
                out.append(((outcome.run.id, outcome.stat.key), outcome.run, outcome.stat))
        return tuple(out)

    def _scope_check(
        self, bid: Any, expression: _Expression, store: _ScopeTargets, now_ts: float
    ) -> _CheckResults:
        """Results of an empty-selector check over the scope's runs, updated for the runs that
        changed since the last time (all of them when the expression uses age_days and time
        moved on)."""
        results = self._check_results.get(bid)
        if results is None or (expression.uses_age and results.now != now_ts):
            results = _CheckResults()
            for key, (run, stat) in store.targets.items():
                results.record(key, run, stat, self._evaluate_on(expression, run, stat, now_ts))
        else:
            for key in store.pending:
                target = store.targets.get(key)
                if target is None:
                    results.forget(key)
                else:
                    run, stat = target
                    results.record(key, run, stat, self._evaluate_on(expression, run, stat, now_ts))
            for key in [*results.failing, *results.errored]:
                if key not in store.targets:  # defensive: only runs still in scope count
                    results.forget(key)
        results.now = now_ts
        self._check_results[bid] = results
        return results

    # -- goals, strategies, solutions -----------------------------------------------------

    def _support_state(self, i: str) -> _State:
        s = self._structure
        node = s.nodes[i]
        if node.type == SOLUTION:
            return self._solution_state(i)
        if i in s.cyclic:
            return _State(
                AT_RISK,
                f"{i} is at risk: it is part of a supported_by cycle (see rule R9), so its "
                "support cannot be decided.",
                (),
            )
        children = s.children.get(i, [])
        if node.undeveloped or not children:
            why = "it is marked undeveloped" if node.undeveloped else "nothing supports it yet"
            flag = Flag(
                "undeveloped",
                INFO,
                i,
                None,
                "",
                f"{i} is undeveloped: {why}, so the argument below it still has to be written.",
            )
            return _State(UNDEVELOPED, f"{i} is undeveloped: {why}.", (flag,))

        states = self._states
        statuses = [(c, states[c].status if c in states else AT_RISK) for c in children]
        need = s.needed[i]
        total = len(children)
        supported = [c for c, st in statuses if st == SUPPORTED]
        alive = [c for c, st in statuses if st != DEFEATED]
        if (node.combination or "all").strip() == "any":
            rule = f"one of its {total} supporting elements must be supported"
        elif need == total:
            rule = (
                f"all of its {total} supporting elements must be supported"
                if total > 1
                else "its supporting element must be supported"
            )
        else:
            rule = f"{need} of its {total} supporting elements must be supported"
        if len(supported) >= need:
            status = SUPPORTED
            reason = f"{i} is supported: {rule}, and {_listing(supported)} {_are(supported)}."
        elif len(alive) < need:
            status = DEFEATED
            defeated = [c for c, st in statuses if st == DEFEATED]
            if defeated:
                reason = (
                    f"{i} is defeated: {rule}, but {_listing(defeated)} {_are(defeated)} defeated."
                )
            else:
                reason = f"{i} is defeated: {rule}, but it has only {total}."
        else:
            status = AT_RISK
            lacking = [f"{c} is {_status_word(st)}" for c, st in statuses if st != SUPPORTED]
            reason = f"{i} is at risk: {rule}, but {_join(lacking)}."

        flags: list[Flag] = []
        # Assumptions in scope, as seen from here: an empty-selector check's verdict on a run
        # concerns only the nodes above that run (see _View).
        in_scope = s.scope.get(i, ())
        if in_scope:
            assumptions = self._assumptions
            bad = sorted(
                (a for a in in_scope if states.get(a) and states[a].status != SUPPORTED),
                key=s.rank.__getitem__,
            )
            seen = {a: assumptions[a].view.status_for(i) for a in bad}
            violated = [a for a in bad if seen[a] == DEFEATED]
            shaky = [a for a in bad if seen[a] == AT_RISK]
            if violated:
                status = DEFEATED
                reason = (
                    f"{i} is defeated: {_noun('assumption', violated)} {_listing(violated)} in its "
                    f"scope {_is(violated)} violated"
                )
                below = [
                    (a, assumptions[a].view.failing_below[i])
                    for a in violated
                    if not assumptions[a].view.own_violated
                ]
                if len(violated) == 1 and below:
                    reason += f" by {_run_ids(below[0][1])} below it."
                elif below:
                    by_runs = "; ".join(f"{a} by {_run_ids(ids)}" for a, ids in below)
                    reason += f" ({by_runs} below it)."
                else:
                    reason += "."
            elif shaky and status == SUPPORTED:
                status = AT_RISK
                reason = (
                    f"{i} is at risk: its support holds, but {_noun('assumption', shaky)} "
                    f"{_listing(shaky)} in its scope {_is(shaky)} unverified."
                )
        # Unfilled parameters.
        if i in s.unresolved and status == SUPPORTED:
            status = AT_RISK
            reason = (
                f"{i} is at risk: its statement still has the unfilled parameter "
                f"{_join(s.unresolved[i])}."
            )
        # Root rules.
        rules = s.root_rules.get(i)
        if rules is not None:
            status, reason = self._root_rules(i, rules, status, reason, flags)
        return _State(status, reason, tuple(sorted(flags, key=_flag_key)))

    def _solution_state(self, i: str) -> _State:
        s = self._structure
        bindings = s.node_bindings.get(i, [])
        if not bindings:
            flag = Flag(
                "missing_evidence",
                WARNING,
                i,
                None,
                "",
                f"{i}: no evidence bound; give the solution an evidence binding (task, model and "
                "acceptance criterion).",
            )
            return _State(AT_RISK, f"{i} is at risk: no evidence is bound to it.", (flag,))
        outcomes = [self._bindings[b.id] for b in bindings]
        flags = tuple(sorted({f for o in outcomes for f in o.flags}, key=_flag_key))
        status = _worst(o.status for o in outcomes)
        if len(outcomes) == 1:
            reason = outcomes[0].reason
        elif status == SUPPORTED:
            runs = _join(sorted({str(o.run.id) for o in outcomes if o.run is not None}))
            reason = f"{i} is supported: all {len(outcomes)} criteria are met (runs {runs})."
        else:
            reason = next(o.reason for o in outcomes if o.status == status)
        if i in s.unresolved and status == SUPPORTED:
            status = AT_RISK
            reason = (
                f"{i} is at risk: its statement still has the unfilled parameter "
                f"{_join(s.unresolved[i])}."
            )
        return _State(status, reason, flags)

    def _root_rules(
        self, i: str, rules: _RootRules, status: str, reason: str, flags: list[Flag]
    ) -> tuple[str, str]:
        s = self._structure
        states = self._states
        if rules.problem:
            flags.append(
                Flag(
                    "criterion_error",
                    WARNING,
                    i,
                    None,
                    "",
                    f"{i}: the root rules cannot be checked: {rules.problem}.",
                )
            )
            if status == SUPPORTED:
                return AT_RISK, f"{i} is at risk: its root rules cannot be checked."
            return status, reason

        def factors(best_case: bool) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for factor in rules.factors:
                goal = str(factor.get("goal", ""))
                goal_status = states[goal].status if goal in states else None
                if best_case:
                    supported = goal_status is not None and goal_status != DEFEATED
                else:
                    supported = goal_status == SUPPORTED
                out[str(factor["id"])] = {
                    **factor,
                    "supported": supported,
                    "developed": goal in s.evidenced,
                }
            return out

        actual = factors(False)
        covered: list[Any] = []
        for factor in rules.factors:
            fid = str(factor["id"])
            if actual[fid]["developed"] and not factor.get("supporting_only", False):
                own = factor.get("outcomes")
                for outcome in own if isinstance(own, list | tuple) else rules.outcomes:
                    if outcome not in covered:
                        covered.append(outcome)
        base = {
            "threshold": rules.threshold,
            "outcomes": list(rules.outcomes),
            "covered_outcomes": covered,
        }
        supported_names = [fid for fid, f in actual.items() if f["supported"]]
        worst, worst_reason = status, reason
        for code, flag_type, statement, _check, expression in rules.rules:
            if expression.compiled is None:
                problem = expression.error
                ok, value = False, problem
            else:
                ok, value = _evaluate(expression, {**base, "factors": actual})
            if not ok or not isinstance(value, bool):
                problem = f"it evaluated to {value!r}" if ok else value.rstrip(".")
                flags.append(
                    Flag(
                        "criterion_error",
                        WARNING,
                        i,
                        None,
                        code,
                        f"{i}: root rule {code} could not be checked: {problem}.",
                    )
                )
                if _RANK[worst] > _RANK[AT_RISK]:
                    worst, worst_reason = (
                        AT_RISK,
                        f"{i} is at risk: root rule {code} could not be checked.",
                    )
                continue
            if value:
                continue
            context = (
                f"supported factors: {_join(supported_names) or 'none'}; threshold "
                f"{rules.threshold!r}"
            )
            claim = statement.rstrip(".") or f"the check {_quoted(expression.text)} holds"
            if flag_type == "criterion_failed":
                ok_best, best = _evaluate(expression, {**base, "factors": factors(True)})
                if ok_best and best is True:
                    severity, effect = WARNING, AT_RISK
                    message = (
                        f"{i}: root rule {code} is not met yet ({context}): {claim}; it would "
                        "be met if the factors that are not defeated became supported."
                    )
                else:
                    severity, effect = ERROR, DEFEATED
                    message = f"{i}: root rule {code} fails ({context}): {claim}."
            else:
                severity, effect = WARNING, AT_RISK
                message = f"{i}: root rule {code} fails ({context}): {claim}."
            flags.append(Flag(flag_type, severity, i, None, code, message))
            if _RANK[effect] < _RANK[worst]:
                worst = effect
                worst_reason = (
                    f"{i} is {_status_word(effect)}: root rule {code} is not met: {claim}."
                )
        return worst, worst_reason

    # -- output ---------------------------------------------------------------------------

    def _result(self) -> Assessment:
        s = self._structure
        states = self._states
        statuses: dict[str, str] = {}
        reasons: dict[str, str] = {}
        for i in s.status_ids:
            state = states.get(i)
            if state is None or state.status is None:
                continue
            statuses[i] = state.status
            reasons[i] = state.reason
        flags: list[Flag] = []
        static = s.static_flags
        flag_nodes = sorted(set(static) | set(states), key=lambda n: (n != "", _natural(n)))
        for node in flag_nodes:
            own = states[node].flags if node in states else ()
            extra = static.get(node, ())
            if own and extra:
                flags.extend(sorted((*own, *extra), key=_flag_key))
            else:
                flags.extend(own or extra)
        return Assessment(statuses=statuses, reasons=reasons, flags=tuple(flags))


# --------------------------------------------------------------------------------------------
# Wording helpers


def _quoted(expression_text: str) -> str:
    """An expression quoted on one line for a message: multi-line CEL (indented `&&` chains)
    would otherwise show up as literal "\\n" escapes."""
    return repr(re.sub(r"\s*\n\s*", " ", expression_text.strip()))


def _task_text(selector: Mapping[str, Any]) -> str:
    task = (selector or {}).get("task")
    if task in (None, ""):
        return "any task"
    if isinstance(task, list | tuple):
        return "task " + " or ".join(repr(str(t)) for t in task)
    return f"task {str(task)!r}"


def _run_ids(ids: frozenset[Any] | set[Any]) -> str:
    """ "run 7" or "runs 7, 9, 12 and 40 more", the smallest ids first, without sorting them
    all (a goal near the top may have thousands of runs below it)."""
    limit = 4
    if len(ids) <= limit:
        shown = [str(r) for r in sorted(ids, key=_id_key)]
    else:
        shown = [str(r) for r in heapq.nsmallest(limit - 1, ids, key=_id_key)]
        shown.append(f"{len(ids) - limit + 1} more")
    return f"{'run' if len(ids) == 1 else 'runs'} {_join(shown, limit)}"


def _listing(ids: Sequence[str]) -> str:
    return _join(list(ids)) if ids else "none"


def _are(ids: Sequence[str]) -> str:
    return "is" if len(ids) == 1 else "are"


def _is(ids: Sequence[str]) -> str:
    return "is" if len(ids) == 1 else "are"


def _noun(word: str, ids: Sequence[str]) -> str:
    return word if len(ids) == 1 else word + "s"


_NEEDED: dict[tuple[float, float], int | None] = {}


def _needed(t: float, c: float) -> int | None:
    key = (t, c)
    if key not in _NEEDED:
        try:
            _NEEDED[key] = min_trials_for_bound(t, c)
        except ValueError:
            _NEEDED[key] = None
    return _NEEDED[key]
