from django.urls import path

from safetycase.api import views

urlpatterns = [
    path("cases/", views.CaseListApi.as_view(), name="api_case_list"),
    path("cases/<int:case_id>/", views.CaseDetailApi.as_view(), name="api_case_detail"),
    path(
        "cases/<int:case_id>/findings/", views.CaseFindingsApi.as_view(), name="api_case_findings"
    ),
    path(
        "cases/<int:case_id>/diagram.svg", views.CaseDiagramApi.as_view(), name="api_case_diagram"
    ),
    path("cases/<int:case_id>/nodes/", views.NodeCreateApi.as_view(), name="api_node_create"),
    path(
        "cases/<int:case_id>/nodes/<str:identifier>/",
        views.NodeDetailApi.as_view(),
        name="api_node_detail",
    ),
    path("cases/<int:case_id>/links/", views.LinkCreateApi.as_view(), name="api_link_create"),
    path(
        "cases/<int:case_id>/links/<int:link_id>/",
        views.LinkDeleteApi.as_view(),
        name="api_link_delete",
    ),
    path(
        "cases/<int:case_id>/instantiate/",
        views.CaseInstantiateApi.as_view(),
        name="api_case_instantiate",
    ),
    path(
        "cases/<int:case_id>/assessment/",
        views.CaseAssessmentApi.as_view(),
        name="api_case_assessment",
    ),
    path(
        "cases/<int:case_id>/assessments/",
        views.CaseAssessmentHistoryApi.as_view(),
        name="api_case_assessments",
    ),
    path("cases/<int:case_id>/flags/", views.CaseFlagsApi.as_view(), name="api_case_flags"),
    path(
        "cases/<int:case_id>/attestations/",
        views.AttestationListApi.as_view(),
        name="api_attestations",
    ),
    path("cases/<int:case_id>/bindings/", views.BindingListApi.as_view(), name="api_bindings"),
    path(
        "cases/<int:case_id>/bindings/<int:binding_id>/",
        views.BindingDetailApi.as_view(),
        name="api_binding_detail",
    ),
    path("templates/", views.TemplateListApi.as_view(), name="api_template_list"),
    path(
        "templates/<str:template_id>/",
        views.TemplateDetailApi.as_view(),
        name="api_template_detail",
    ),
]

# Review: signed-off versions and their diffs.
urlpatterns += [
    path("cases/<int:case_id>/versions/", views.VersionListApi.as_view(), name="api_versions"),
    path(
        "cases/<int:case_id>/versions/diff/",
        views.VersionDiffApi.as_view(),
        name="api_version_diff",
    ),
    path(
        "cases/<int:case_id>/versions/<int:number>/",
        views.VersionDetailApi.as_view(),
        name="api_version_detail",
    ),
]

# Review: comments and challenges on nodes.
urlpatterns += [
    path(
        "cases/<int:case_id>/nodes/<str:identifier>/comments/",
        views.NodeCommentsApi.as_view(),
        name="api_node_comments",
    ),
    path(
        "cases/<int:case_id>/nodes/<str:identifier>/challenges/",
        views.NodeChallengesApi.as_view(),
        name="api_node_challenges",
    ),
    path(
        "cases/<int:case_id>/challenges/<int:challenge_id>/resolve/",
        views.ChallengeResolveApi.as_view(),
        name="api_challenge_resolve",
    ),
    path(
        "cases/<int:case_id>/challenges/<int:challenge_id>/respond/",
        views.ChallengeRespondApi.as_view(),
        name="api_challenge_respond",
    ),
    path(
        "cases/<int:case_id>/challenges/<int:challenge_id>/reject-response/",
        views.ChallengeRejectResponseApi.as_view(),
        name="api_challenge_reject_response",
    ),
]

# Access: members of a case (owners manage them) and its audit trail.
from safetycase.api import members  # noqa: E402

urlpatterns += [
    path("cases/<int:case_id>/members/", members.CaseMembersApi.as_view(), name="api_members"),
    path(
        "cases/<int:case_id>/members/<str:username>/",
        members.CaseMemberDetailApi.as_view(),
        name="api_member_detail",
    ),
    path("cases/<int:case_id>/audit/", members.CaseAuditApi.as_view(), name="api_case_audit"),
]

# The evidence ledger: reviewers withdraw runs and acknowledge changed criteria.
from safetycase.api import ledger  # noqa: E402

urlpatterns += [
    path(
        "cases/<int:case_id>/bindings/<int:binding_id>/withdrawals/",
        ledger.BindingWithdrawalsApi.as_view(),
        name="api_binding_withdrawals",
    ),
    path(
        "cases/<int:case_id>/criterion-changes/",
        ledger.CriterionChangesApi.as_view(),
        name="api_criterion_changes",
    ),
    path(
        "cases/<int:case_id>/criterion-changes/<int:change_id>/acknowledge/",
        ledger.CriterionChangeAcknowledgeApi.as_view(),
        name="api_criterion_change_acknowledge",
    ),
]
