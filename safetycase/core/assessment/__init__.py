"""Assessment: the statuses and flags of a case's nodes from its argument, bindings, runs and
attestations.

The public API; see `safetycase.core.assessment.engine` for how a case is assessed.
"""

from safetycase.core.assessment.engine import (
    AT_RISK,
    DEFEATED,
    FLAG_TYPES,
    STATUSES,
    SUPPORTED,
    UNDEVELOPED,
    Assessment,
    AssessmentCache,
    AttestationFacts,
    BindingFacts,
    CaseFacts,
    Flag,
    NodeFacts,
    RunFacts,
    assess,
    binding_matches,
    run_variables,
)

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
