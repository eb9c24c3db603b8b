"""Every read a page, the API, a command or a service needs, grouped by concept; this package
re-exports their public names (`from safetycase import selectors; selectors.case_nodes(...)`)."""

from safetycase.selectors.assessments import (  # noqa: F401
    argument_fingerprint,
    assessment_run_facts,
    binding_ledger,
    bound_tasks,
    candidate_runs,
    case_assessment_facts,
    cases_bound_to_run,
    previous_assessment_for_changes,
    run_ledger_entries,
    run_score_meanings,
    usable_run_for_case,
)
from safetycase.selectors.audit import (  # noqa: F401
    ACTIONS,
    AUDITED,
    NOT_SHOWN,
    AuditEntry,
    FieldChange,
    audit_entries,
    case_audit_refs,
)
from safetycase.selectors.cases import (  # noqa: F401
    all_case_ids,
    assessment_history,
    binding_for_case,
    case_argument,
    case_argument_of,
    case_bindings,
    case_by_id_or_name,
    case_findings,
    case_for_user,
    case_links,
    case_nodes,
    case_or_none,
    case_overviews_for_user,
    cases_for_user,
    latest_assessment,
    latest_versions,
    link_for_case,
    node_attestations,
    node_bindings,
    node_for_case,
    node_history,
    node_identifiers,
    node_links,
    open_challenge_counts,
    template_library,
)
from safetycase.selectors.diagrams import (  # noqa: F401
    case_detail_etag,
    case_detail_validators,
    case_diagram_bytes,
    case_diagram_etag,
    case_diagram_svg,
    case_diagram_validators,
    case_view_svg,
    node_url,
)
from safetycase.selectors.evidence import (  # noqa: F401
    BindingEvidence,
    BoundRun,
    Citation,
    criterion_change_for_case,
    node_criterion_changes,
    node_evidence,
    nodes_citing_runs,
    run_for_user,
    run_index,
)
from safetycase.selectors.exports import (  # noqa: F401
    DEFAULT_SYNC_MAX_NODES,
    case_export_data,
    case_is_large,
    case_node_count,
    export_for_case,
    export_setting,
    recent_exports,
    version_export_data,
    version_is_large,
)
from safetycase.selectors.freshness import content_version, page_etag  # noqa: F401
from safetycase.selectors.memberships import (  # noqa: F401
    case_members,
    membership_for_case,
)
from safetycase.selectors.review import (  # noqa: F401
    case_conditions,
    case_open_items,
    case_snapshot,
    case_versions,
    chain_heads,
    challenge_flag,
    challenge_for_case,
    condition_for_case,
    node_challenges,
    node_comments,
    open_challenge_flags,
    summary_with_challenges,
    version_as_compared,
    version_for_case,
    version_signatures,
    versions_to_verify,
)
from safetycase.selectors.tokens import (  # noqa: F401
    key_digest,
    token_for_key,
)
