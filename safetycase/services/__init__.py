"""Every write goes through a service, grouped by concept; this package re-exports their public
names, so `from safetycase import services; services.case_create(...)` reads as one API.

Public services take the acting user and check their permission first; the `_do` parts are for
callers that already hold authority (management commands, importers, Celery tasks). Services
queue work for Celery through `services.queue`, when their transaction commits."""

from safetycase.services.arguments import (  # noqa: F401
    COMBINATION_PATTERN,
    NODE_EDITABLE_FIELDS,
    STRUCTURAL_RULES,
    StructuralError,
    bulk_create_nodes,
    case_create,
    case_import_argument,
    case_import_gsn2x,
    link_create,
    link_create_do,
    link_delete,
    node_create,
    node_create_do,
    node_delete,
    node_edit,
    node_set_combination,
    node_update,
    refuse_structural_errors,
)
from safetycase.services.assessments import (  # noqa: F401
    ASSESSMENT_CACHE_CASES,
    assessment_fail,
    assessment_summary,
    case_assess,
    flag_as_dict,
    forget_assessment_memos,
)
from safetycase.services.attestations import (  # noqa: F401
    attestation_create,
)
from safetycase.services.bindings import (  # noqa: F401
    BINDING_EDITABLE_FIELDS,
    binding_create,
    binding_create_do,
    binding_delete,
    binding_update,
)
from safetycase.services.exports import (  # noqa: F401
    ExportedPdf,
    ExportInFlight,
    Progress,
    case_export_pdf,
    export_filename,
    pdf_export_request,
    pdf_export_run,
    pdf_exports_requeue,
    plan_diagrams,
    version_export_pdf,
)
from safetycase.services.ledger import (  # noqa: F401
    criterion_change_acknowledge,
    run_withdraw,
)
from safetycase.services.memberships import (  # noqa: F401
    membership_add,
    membership_change_role,
    membership_remove,
    membership_set,
)
from safetycase.services.review import (  # noqa: F401
    challenge_create,
    challenge_reject_response,
    challenge_resolve,
    challenge_respond,
    comment_create,
)
from safetycase.services.templates import (  # noqa: F401
    InstantiationResult,
    case_instantiate_template,
    template_instantiate_into,
    template_instantiate_into_do,
)
from safetycase.services.tokens import (  # noqa: F401
    LAST_USED_PRECISION,
    token_create,
    token_mark_used,
    token_revoke,
)
from safetycase.services.versions import (  # noqa: F401
    VERDICT_CHOICES,
    condition_close,
    signature_content_of,
    version_content_of,
    version_cosign,
    version_sign_off,
)
