"""The assessment's inputs and output: plain frozen facts about a case (nodes, bindings, runs,
attestations), the flags and the result, and the vocabulary (statuses, severities, node types)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from safetycase.core.keys import id_key

SUPPORTED = "supported"
AT_RISK = "at_risk"
DEFEATED = "defeated"
UNDEVELOPED = "undeveloped"
STATUSES = (SUPPORTED, AT_RISK, DEFEATED, UNDEVELOPED)

ERROR = "error"
WARNING = "warning"
INFO = "info"

# An attestation about to expire is flagged this long before it does.
ATTESTATION_NOTICE_SECONDS = 14 * 24 * 3600

FLAG_TYPES = (
    "missing_evidence",
    "criterion_failed",
    "criterion_error",
    "assumption_violated",
    "assumption_unverified",
    "attestation_expired",
    "attestation_expiring",
    "stale_evidence",
    "model_mismatch",
    "insufficient_samples",
    "biased_estimator",
    "run_errors",
    "undeveloped",
    "ill_formed",
    "unresolved_parameter",
    "alignment_only",
    "contradicting_evidence",
    "evidence_withdrawn",
    "criterion_changed_after_evidence",
    "point_estimate",
    "underpowered",
    "joint_confidence_low",
    "bound_unsupported",
    "deployment_scale_exceeded",
    "threshold_unlinked",
)

# How a binding's eligible runs combine (core/assessment/ledger.py).
POLICY_ALL = "all"
POLICY_POOLED = "pooled"
POLICY_LATEST = "latest"
POLICIES = (POLICY_ALL, POLICY_POOLED, POLICY_LATEST)

GOAL = "goal"
STRATEGY = "strategy"
SOLUTION = "solution"
ASSUMPTION = "assumption"
SUPPORTED_BY = "supported_by"
IN_CONTEXT_OF = "in_context_of"
INGESTED = "ingested"
SUCCESS = "success"
BIASED_ESTIMATORS = frozenset({"milestone", "expert_best_of_n"})

STATUS_TYPES = frozenset({GOAL, STRATEGY, SOLUTION, ASSUMPTION})
ARGUED_TYPES = frozenset({GOAL, STRATEGY})
SUPPORT_TYPES = frozenset({GOAL, STRATEGY, SOLUTION})
STATUS_RANK = {DEFEATED: 0, AT_RISK: 1, UNDEVELOPED: 1, SUPPORTED: 2}
SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}
DAY_SECONDS = 86400.0
FOREVER = math.inf


# --------------------------------------------------------------------------------------------
# Inputs and output


@dataclass(frozen=True)
class CaseFacts:
    model_name: str = ""
    model_version: str = ""
    # The confidence at which the case states its claims: a goal whose bounds hold jointly
    # with less is at risk (joint_confidence_low).
    joint_confidence: float = 0.95


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
    # How the eligible runs combine: "all" (each must meet the criterion), "pooled" (k and n
    # summed per task version and model version) or "latest" (with a justification).
    policy: str = POLICY_ALL
    policy_justification: str = ""
    # (run id, why: who withdrew it and their reason) for runs a reviewer withdrew.
    withdrawn: tuple[tuple[int | str, str], ...] = ()
    # (old expression, new expression, run id) of unacknowledged criterion edits made after
    # that run, which failed the old criterion, was already evidence.
    criterion_changes: tuple[tuple[str, str, int | str], ...] = ()


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
    # Biased estimators the server computed from the log's raw data (milestones, expert
    # best-of-N): {"kinds": [...], "milestone": {...}, "expert": {...}}; empty otherwise.
    estimation: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # A criterion with `paired_with` judges each run with its samples paired with the other
    # condition's run (paired.py): the CEL variable `paired`, or why it cannot be computed.
    paired: Mapping[str, Any] | None = field(default=None, hash=False)
    paired_error: str = ""
    paired_with: Any = None  # the other condition's run id the `paired` table is with


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
class LedgerEntry:
    """One run in a binding's evidence: its k/n, the criterion's value on it alone (None when it
    cannot be evaluated) and its role: `decisive` (its verdict, or its pool's, decided the
    status), `outweighed` (it meets the criterion but another run's failure decided),
    `superseded` (policy `latest`: an older run, looked at but not deciding) or `withdrawn`
    (a reviewer withdrew it; `note` says who and why)."""

    run: int | str
    k: int | None
    n: int | None
    holds: bool | None
    role: str
    note: str = ""


@dataclass(frozen=True)
class AssessmentResult:
    """What `assess` returns: a status and reason per node (goals, strategies, solutions and
    assumptions) and the flags, in a fixed order."""

    statuses: Mapping[str, str]
    reasons: Mapping[str, str]
    flags: tuple[Flag, ...]
    # binding id -> its ledger: every run looked at (criteria on solutions only).
    evidence: Mapping[Any, tuple[LedgerEntry, ...]] = field(default_factory=dict)

    def flags_of(self, node: str) -> tuple[Flag, ...]:
        return tuple(f for f in self.flags if f.node == node)


# --------------------------------------------------------------------------------------------
# Public helpers


def flag_sort_key(flag: Flag) -> tuple[Any, ...]:
    return (
        SEVERITY_RANK.get(flag.severity, 3),
        flag.type,
        flag.rule,
        flag.run is not None,
        id_key(flag.run) if flag.run is not None else (),
        flag.message,
    )


def worst_status(statuses: Iterable[str]) -> str:
    return min(statuses, key=lambda s: STATUS_RANK[s], default=SUPPORTED)


# --------------------------------------------------------------------------------------------
# Runs: selection and variables
