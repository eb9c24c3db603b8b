"""Assessment of a safety case: a status per node and the flags that explain it.

A pure function of plain data (no Django, no I/O): `assess(case, nodes, relations, bindings,
runs, attestations, now)` returns an `AssessmentResult` (the stored row is the model
`safetycase.models.Assessment`). The semantics are those of DESIGN §3; where
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
  that many days before `now` (a run without a finish time is then never fresh). Every eligible
  run is the binding's evidence, its *ledger* (`ledger.py`, `AssessmentResult.evidence`): each
  with k/n, the criterion's value on it alone and its role (`decisive`, `outweighed`,
  `superseded`, `withdrawn`). The binding's `policy` combines them: `all` (default; the
  criterion must hold on each run), `pooled` (k and n summed over runs of the same task,
  task version, model and model version; each pool must hold) or `latest` (the newest run
  decides; only with a `policy_justification`). A check with a selector keeps a ledger too,
  always under `all`; empty-selector checks read every run the ledgers of the solutions in their
  scope count (not withdrawn; under `pooled`, the pools) — a later passing run hides no failure
  from an assumption either.
* `scorer` (or failing that `metric`) in the selector names the statistic that becomes
  `k`/`n`; a run with a single statistic needs no name. `run_variables` gives the CEL variables
  (`criteria.RUN_VARIABLES`): `age_days` is fractional days; `meta` is the run metadata, with
  `model_version_hash` defaulting to the run's model version (so catalogue check A04 works);
  `samples` only when the caller loaded them (the service loads them for the runs of the tasks
  that paired checks compare). A variable that cannot be given (no statistic,
  `n = 0` for `rate`, no finish time for `age_days`) is absent, and an expression that uses it
  ends in `criterion_error` with the reason.

Solutions
---------
* Every binding on a solution is an acceptance criterion (whatever its `kind`); the solution
  takes the worst outcome of its criteria (defeated < at risk < supported).
* No binding → at risk + `missing_evidence` ("no evidence bound"). No eligible run → at risk +
  `missing_evidence`, plus `model_mismatch` (rule A04) when runs of the task exist for another
  model or version and `stale_evidence` (rule A05) when the model's runs are all too old.
* `contradicting_evidence` (error) when a run (or pool) fails the criterion and another meets
  it, naming both: with `all`/`pooled` the failure stands (defeated); with `latest` a supported
  solution becomes at risk. A run a reviewer withdrew (`BindingFacts.withdrawn`) stays in the
  ledger, marked `withdrawn`, with an `evidence_withdrawn` info flag, and no longer counts.
  `criterion_changed_after_evidence` (warning) for each unacknowledged criterion edit made
  after a run that failed the old criterion (`BindingFacts.criterion_changes`).
* On each run (or pool), as follows.
  Criterion true → supported; false → defeated + `criterion_failed`; not evaluable (does not
  compile, missing variable, CEL error, a result that is not a bool) → at risk +
  `criterion_error`. `assess` never raises for a bad expression; a binding whose selector is
  not a map or whose freshness window is not a positive number is a `criterion_error` too.
* `insufficient_samples` (warning, rule A06) when (a) the criterion claims an upper bound `t`
  it states as a literal — `cp_upper(k, n[, c]) < t` or `rate < t` (also `<=` and mirrored) —
  and `n < min_trials_for_bound(t, c)`, i.e. even zero successes could not show it (raised even
  when a point-estimate criterion passes); or (b) the criterion fails, depends on `k` or
  `rate`, and is false both with `k = 0` and with `k = n`. It does not change the status.
* `biased_estimator` (warning) when the run's estimate comes from the milestone method or
  expert best-of-N (its raw data, computed into `RunFacts.estimation`, or a `meta.estimator`
  label) and the criterion passes: such estimates underestimate (science §6.3–§6.4), so the
  solution is at risk, however the expression is written, unless the node claims a capability
  (attribute `claim: capability`). A failing criterion still defeats.
* Soundness (`soundness.py`), on criteria checked on k/n: `point_estimate` (warning) when the
  criterion compares the rate (`rate`, k/n arithmetic) with a threshold without a bound or test
  — the message gives the one-sided 95% bound (`cp_upper` for an upper claim, `cp_lower` for a
  lower one) and its value, and a criterion met only by the point estimate is at risk;
  `insufficient_samples` (A06) for lower-bound claims too (n needed for `cp_lower(n, n) >= t`);
  a criterion that fails on the most favourable outcome (no event for an upper claim, all
  successes for a lower one) and would hold with enough such samples is at risk with
  `insufficient_samples` naming the n needed, not defeated; `underpowered` (warning, at risk)
  when `binom_sf(k - 1, n, p0) >= alpha` passes but the test's power to detect the node's
  `attributes.detectable_rate` (default twice p0, at most halfway to 1) is below 0.8.
* A criterion whose selector has `paired_with` judges each eligible run with its samples paired
  with every eligible run of the other condition that holds the same samples (each pair is a
  verdict of the ledger, so a newer run of that condition never hides a failing pair; the newest
  one when none holds them) (`paired.py`, the CEL variable `paired`
  as for checks below); when there is none, or the samples cannot be paired, the criterion
  cannot be evaluated (`criterion_error`, at risk). Policy `pooled` is refused for it
  (`criterion_error`): pooled runs have no samples to pair.
* `run_errors` (warning) when the evidence run has errored samples. Errored samples are left out
  of `k`/`n`, so the criterion is re-evaluated as if they had been trials that went either way
  (`k + e` of `n + e`, and `k` of `n + e`); when it does not hold in both, the errors exceed what
  the criterion tolerates and a supported solution becomes at risk. Criteria that do not use
  `k`, `n` or `rate` only get the flag.

Assumptions
-----------
* Every binding on an assumption is a check. A check with a selector is evaluated on every
  eligible run it selects that a reviewer did not withdraw; a check with an empty selector on
  every evidence run of the solutions
  in the assumption's scope (below the nodes it is in the context of), with each solution
  binding's scorer choice and, as the CEL variable `claim`, the `rate_bound` and `confidence`
  the binding's criterion states when it bounds the rate from above (`{}` otherwise; a run that
  is evidence for two different bounds is checked once per bound). A06 checks each run against
  its own criterion's bound this way.
* A check whose selector has `paired_with` (`paired.py`) reads pairs of runs: each eligible run
  of its selector (condition a) with each eligible run of `paired_with` that holds the same
  samples, else the newest (condition b, with
  the task, task version and scorer of the selector unless it names its own), and gets the CEL
  variable `paired` — their samples paired by (sample id, epoch): the 2×2 table, the accuracies,
  their difference with Newcombe's 95% interval and the exact McNemar p-values. No eligible run
  of condition b → unverified ("no eligible run of … to pair with run 12"); samples that cannot
  be paired (different ids, several epochs of a sample, no such score) → `criterion_error` with
  the reason and unverified, never holding. A violation names both runs ("… false on run 12
  (k/n = 495/500) paired with run 13").
* A check false on any run → violated (defeated) + `assumption_violated`, even with a valid
  attestation: data that contradicts an assumption outweighs a reviewer's word.
* Otherwise a valid attestation (created by `now`, not expired) → holds (supported). An expired
  attestation gives `attestation_expired` (warning), also when the checks hold; when every
  valid attestation expires within 14 days, `attestation_expiring` (warning) says so ahead.
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
* Refuting evidence (GSN dialectic, `refutation.py`): a solution whose `attributes.refutes`
  names a goal above it observes the hazard that goal rules out. When the solution is defeated
  (a criterion failed), that goal and every goal and strategy on a supported_by path between
  them are defeated whatever their combination rule, and the reason names the solution and its
  run ("SI-G0 is defeated: SI-Sn2 is evidence that refutes SI-G0, and run 14 (k/n = 15/300)
  does not meet the criterion ..."). Above the refuted goal the ordinary rules apply.
* Assumptions in scope — in the context of the node or of any `supported_by` ancestor — then
  apply as the node sees them (above): a violated one makes the node defeated (the reason
  names the runs below it when they are what violates it, "G2 is defeated: assumption A06 in
  its scope is violated by run 282 below it."); an unverified one makes a supported node at
  risk.
* Joint confidence (`joint.py`): a goal rests on the confidence bounds (`cp_upper`, `cp_lower`,
  `wilson_*` at their level, `union_upper`) of the criteria below it — all children's for
  `all`, the k children with the largest Σα for `any` / `at_least: k`, a shared solution once.
  When 1 − Σα is below `CaseFacts.joint_confidence` (default 0.95) the goal gets
  `joint_confidence_low` (warning) naming the bounds and `bonferroni(level, m)`, and a
  supported goal becomes at risk. A level written `bonferroni(c, m)` is read as its value.
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
* Factor bounds from evidence: a root factor (`p_capable`, `p_harm`, `p_scheme`) whose goal is
  supported and rests on confidence bounds cannot state a bound below Σα of those bounds (the
  chance they do not all hold): `bound_unsupported` (error, rule = the factor id), and a
  supported top goal becomes at risk.
* Deployment scale (`scale.py`): a goal with `attributes.deployment_scale` = `{attempts: N,
  bound: T}` (SI-G0 and HI-G0, from `n_deploy_attempts` and `p_capable` / `p_harm`) adds up the
  per-attempt upper bounds it rests on (`cp_upper(k, n, c)`, `wilson_upper(k, n, c)` among the
  joint-confidence bounds, each at its largest value over the runs that count) to p and
  compares 1 − (1 − p)ᴺ with T. Above it: `deployment_scale_exceeded`, an error that defeats
  the goal when the bounds of the runs that saw an event exceed T on their own, else a warning
  that puts a supported goal at risk (too few samples: the message gives the per-attempt rate
  1 − (1 − T)^(1/N) and the samples needed). It adds no bound, so joint confidence is
  unchanged. A malformed scale (attempts not a whole number ≥ 1, bound not a probability) is a
  `criterion_error` and a supported goal is at risk: it cannot let per-attempt bounds pass for
  deployment-level ones.
* Threshold links (`scale.py`): on a top goal with root rules, each factor's stated bound B is
  compared with the branches below its goal — a deployment-scale goal's T, its per-attempt
  thresholds (the `t` of its bounded criteria, summed) scaled to 1 − (1 − Σt)ᴺ, and criteria
  comparing `p_any_defection`, `p_red_win` or `max_p_red_win` with a literal threshold. One
  looser than B is `threshold_unlinked` (error, rule = the factor id), from the argument alone,
  whatever the evidence; a supported top goal becomes at risk.
* GSN well-formedness (`check_argument`): every finding becomes an `ill_formed` flag with the rule
  code and the finding's severity; apart from cycles it does not change statuses.

Flags carry `node` ("" for the whole argument), `run` (id or None) and `rule` (a GSN rule
code, a root rule code, or the catalogue assumption a statistical flag stands for: A04
`model_mismatch`, A05 `stale_evidence`, A06 `insufficient_samples`).

Incremental use
---------------
`assess(..., cache=AssessmentEngine())` with the same engine object on later calls of the same
case reuses compiled expressions, evaluations (keyed by expression, run id and content, statistic
name and counts — a pool carries its newest run's id — and, only for expressions that use
`age_days`, the age), binding and assumption outcomes that
no changed run can affect and whose time window still holds, the GSN findings and graph indexes
when nodes, relations and bindings are unchanged, and re-derives only the nodes above what
changed — including, when an assumption keeps its status but the runs that violate it move,
the nodes above the runs that came or went. The result is always equal to a fresh `assess` of
the same inputs. `assess` pauses Python's cyclic garbage collector while it runs (it allocates
many small acyclic objects; this saves about 40% on a 10,000-node case). `bench/assess_pure.py`
times it.
"""

from safetycase.core.assessment.engine import AssessmentEngine, assess
from safetycase.core.assessment.facts import (
    AT_RISK,
    DEFEATED,
    FLAG_TYPES,
    POLICIES,
    POLICY_ALL,
    POLICY_LATEST,
    POLICY_POOLED,
    STATUSES,
    SUPPORTED,
    UNDEVELOPED,
    AssessmentResult,
    AttestationFacts,
    BindingFacts,
    CaseFacts,
    Flag,
    LedgerEntry,
    NodeFacts,
    RunFacts,
)
from safetycase.core.assessment.runs import binding_matches, run_variables

__all__ = [
    "AT_RISK",
    "DEFEATED",
    "FLAG_TYPES",
    "POLICIES",
    "POLICY_ALL",
    "POLICY_LATEST",
    "POLICY_POOLED",
    "STATUSES",
    "SUPPORTED",
    "UNDEVELOPED",
    "AssessmentResult",
    "AssessmentEngine",
    "AttestationFacts",
    "BindingFacts",
    "CaseFacts",
    "Flag",
    "LedgerEntry",
    "NodeFacts",
    "RunFacts",
    "assess",
    "binding_matches",
    "run_variables",
]
