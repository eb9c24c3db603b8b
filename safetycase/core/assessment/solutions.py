"""Solutions' criteria: the evidence run of a criterion binding, its verdict and the
statistical guards (sample size, biased estimators), and the flags when there is no evidence."""

from __future__ import annotations

from safetycase.core.assessment.facts import (
    AT_RISK,
    BIASED_ESTIMATORS,
    DEFEATED,
    ERROR,
    SUPPORTED,
    WARNING,
    BindingFacts,
    CaseFacts,
    Flag,
    RunFacts,
    flag_sort_key,
)
from safetycase.core.assessment.guards import PreparedExpression, trials_needed
from safetycase.core.assessment.runs import RunStatistic, expected_model, run_text, statistic_for
from safetycase.core.assessment.state import Outcome, RunSelection
from safetycase.core.assessment.wording import (
    day_text,
    percent,
    plural,
    quoted,
    task_text,
)
from safetycase.core.keys import timestamp


def biased_method(run: RunFacts) -> str:
    """How the run's estimate was biased, in words; "" for an unbiased run. The server's own
    reading of the raw data decides; a metadata label can only add caution."""
    kinds = set((run.estimation or {}).get("kinds") or ())
    label = (run.metadata or {}).get("estimator")
    if isinstance(label, str) and label in BIASED_ESTIMATORS:
        kinds.add(label)
    if "milestone" in kinds:
        return "the milestone method"
    if "expert_best_of_n" in kinds:
        return "expert best-of-N guidance"
    return ""


class SolutionChecks:
    """The engine's checks of solutions' criteria (mixed into `AssessmentEngine`)."""

    __slots__ = ()

    def _no_evidence_flags(
        self, node: str, binding: BindingFacts, sel: RunSelection, case: CaseFacts
    ) -> tuple[list[Flag], str]:
        """model_mismatch / stale_evidence flags and the detail clause for a binding without
        an eligible run."""
        selector = binding.selector or {}
        what = task_text(selector)
        model, version = expected_model(selector, case)
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
            more = f" (and {plural(others, 'other run')})" if others else ""
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
                    f"({day_text(timestamp(latest.finished_at))})"
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
        self,
        binding: BindingFacts,
        expression: PreparedExpression,
        case: CaseFacts,
        now_ts: float,
        selection: RunSelection | None = None,
    ) -> Outcome:
        """The criterion on one run: `selection`'s (the ledger passes each run in turn), else
        the binding's latest eligible run."""
        node = binding.node
        text = expression.text
        if expression.compiled is None:
            message = f"{node}: the criterion {quoted(text)} cannot be used: {expression.error}"
            return Outcome(
                AT_RISK,
                f"{node} is at risk: its criterion {quoted(text)} does not compile.",
                (Flag("criterion_error", WARNING, node, None, "", message),),
            )
        selector = binding.selector or {}
        sel = selection if selection is not None else self._select(binding, case, now_ts)
        run = sel.run
        if run is None:
            flags, details = self._no_evidence_flags(node, binding, sel, case)
            what = task_text(selector)
            model, version = expected_model(selector, case)
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
            return Outcome(
                AT_RISK,
                f"{node} is at risk: it has no eligible run of {what}{target}{window}.",
                tuple(sorted(flags, key=flag_sort_key)),
                valid_from=now_ts,
                valid_to=sel.valid_to,
            )

        stat = statistic_for(run, selector)
        valid_to = now_ts if expression.uses_age else sel.valid_to
        ok, value = self._evaluate_on(expression, run, stat, now_ts)
        flags: list[Flag] = []
        described = run_text(run, stat)
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
                f"{node} is at risk: its criterion {quoted(text)} could not be checked on "
                f"{described}."
            )
        elif value:
            status = SUPPORTED
            reason = f"{node} is supported: {described} meets the criterion {quoted(text)}."
        else:
            status = DEFEATED
            reason = f"{node} is defeated: {described} does not meet the criterion {quoted(text)}."
            flags.append(
                Flag(
                    "criterion_failed",
                    ERROR,
                    node,
                    run.id,
                    "",
                    f"{node}: {described} does not meet the criterion {quoted(text)}.",
                )
            )

        counted = ok and isinstance(value, bool) and stat.k is not None
        # insufficient_samples (A06)
        if counted:
            flag = self._sample_size_flag(node, expression, run, stat, now_ts, value)
            if flag is not None:
                flags.append(flag)
            # point_estimate, underpowered, too few samples for the best outcome (soundness.py)
            status, reason = self._soundness(
                node, expression, run, stat, now_ts, value, status, reason, flags
            )
        # biased_estimator: decided by how the run's estimate was made (computed from its raw
        # data, or a label of it) and what the node claims, never by the expression's text —
        # an underestimate can refute an inability claim but never support one.
        method = biased_method(run)
        if method and status == SUPPORTED and not self._claims_capability(node):
            flags.append(
                Flag(
                    "biased_estimator",
                    WARNING,
                    node,
                    run.id,
                    "",
                    f"{node}: the estimate of run {run.id} comes from {method}, which is known to "
                    "underestimate, so it cannot support the claim through "
                    f"{quoted(text)} on its own.",
                )
            )
            status = AT_RISK
            reason = (
                f"{node} is at risk: {described} meets the criterion, but its estimate comes "
                f"from {method}, which underestimates and so cannot support the claim."
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
                    f"{node}: run {run.id} has {plural(errors, 'errored sample')}{samples}; {tail}",
                )
            )
            if robust is False and status == SUPPORTED:
                status = AT_RISK
                reason = (
                    f"{node} is at risk: {described} meets the criterion, but its "
                    f"{plural(errors, 'errored sample')} could change the result."
                )
        return Outcome(
            status,
            reason,
            tuple(sorted(flags, key=flag_sort_key)),
            run=run,
            stat=stat,
            valid_from=now_ts,
            valid_to=valid_to,
        )

    def _claims_capability(self, node: str) -> bool:
        """Only a node that says it claims a capability (attribute `claim: capability`), for
        which an underestimate errs on the safe side, keeps support from a biased estimator."""
        facts = self._structure.nodes.get(node)
        attributes = facts.attributes if facts is not None else None
        return bool(attributes) and attributes.get("claim") == "capability"

    def _sample_size_flag(
        self,
        node: str,
        expression: PreparedExpression,
        run: RunFacts,
        stat: RunStatistic,
        now_ts: float,
        value: bool,
    ) -> Flag | None:
        n = stat.n or 0
        if expression.bound is not None:
            t, c = expression.bound
            needed = trials_needed(t, c)
            if needed is not None and n < needed:
                return Flag(
                    "insufficient_samples",
                    WARNING,
                    node,
                    run.id,
                    "A06",
                    f"A06: {plural(n, 'sample')} (run {run.id}) cannot show a rate below "
                    f"{percent(t)} at {percent(c)} confidence; at least {needed} are needed "
                    f"({node}, criterion {quoted(expression.text)}).",
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
                f"A06: no outcome of the {plural(n, 'sample')} of run {run.id} could meet the "
                f"criterion {quoted(expression.text)} (it is false with 0 and with {n} "
                "successes); "
                f"more samples are needed ({node}).",
            )
        return None
