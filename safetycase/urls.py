from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from safetycase.views import audit as audit_views
from safetycase.views import authoring, cases, exports, health, nodes, runs
from safetycase.views import members as members_views
from safetycase.views import projects as projects_views
from safetycase.views import review as review_views

urlpatterns = [
    path("", cases.case_list, name="case_list"),
    path("cases/<int:case_id>/", cases.case_detail, name="case_detail"),
    path("cases/<int:case_id>/nodes/<str:identifier>/", nodes.node_detail, name="node_detail"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("safetycase.api.urls")),
    path("api/v1/", include("evidence.api.urls")),
    # Watches, the inbox and project webhooks.
    path("", include("notifications.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (?script), not inline, for
    # the Content-Security-Policy; api_docs.html drops the inline <style> of the stock page.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="safetycase/api_docs.html"
        ),
        name="api_docs",
    ),
]

# Reviewer UI: evaluation runs (the index with its upload form; provenance, statistics,
# samples and their transcripts, live ingestion, original log).
urlpatterns += [
    path("runs/", runs.run_list, name="run_list"),
    path("runs/<int:run_id>/", runs.run_detail, name="run_detail"),
    path("runs/<int:run_id>/progress/", runs.run_progress, name="run_progress"),
    path("runs/<int:run_id>/log", runs.run_log, name="run_log"),
    # Sample ids may hold any character Inspect allows, "/" included.
    path("runs/<int:run_id>/samples/<path:sample_id>/", runs.run_sample, name="run_sample"),
    path(
        "runs/<int:run_id>/results/<int:result_id>/audit/",
        runs.sample_audit,
        name="sample_audit",
    ),
]

# PDF export: the case page's button, the export pages and the export API.
urlpatterns += [
    path("cases/<int:case_id>/export/", exports.case_export, name="case_export"),
    path(
        "cases/<int:case_id>/versions/<int:number>/export.pdf",
        exports.version_export,
        name="version_export",
    ),
    path(
        "cases/<int:case_id>/export/<int:export_id>/",
        exports.case_export_status,
        name="case_export_status",
    ),
    path("api/v1/", include("safetycase.api.export_urls")),
]

# Authoring (authors only): new cases from templates or gsn2x, editing nodes, links, bindings.

urlpatterns += [
    path("cases/new/", authoring.case_new, name="authoring_case_new"),
    path("cases/new/import/", authoring.case_import, name="authoring_case_import"),
    path(
        "cases/new/<str:template>/",
        authoring.case_new_from_template,
        name="authoring_case_from_template",
    ),
    path("cases/<int:case_id>/gsn2x.zip", authoring.case_export_gsn2x, name="authoring_export"),
    path("cases/<int:case_id>/add-node/", authoring.node_create, name="authoring_node_create"),
    path(
        "cases/<int:case_id>/nodes/<str:identifier>/edit/",
        authoring.node_edit,
        name="authoring_node_edit",
    ),
    path(
        "cases/<int:case_id>/nodes/<str:identifier>/delete/",
        authoring.node_delete,
        name="authoring_node_delete",
    ),
    path(
        "cases/<int:case_id>/nodes/<str:identifier>/links/",
        authoring.link_create,
        name="authoring_link_create",
    ),
    path(
        "cases/<int:case_id>/links/<int:link_id>/delete/",
        authoring.link_delete,
        name="authoring_link_delete",
    ),
    path(
        "cases/<int:case_id>/nodes/<str:identifier>/bindings/",
        authoring.binding_create,
        name="authoring_binding_create",
    ),
    path(
        "cases/<int:case_id>/bindings/<int:binding_id>/edit/",
        authoring.binding_edit,
        name="authoring_binding_edit",
    ),
    path(
        "cases/<int:case_id>/bindings/<int:binding_id>/delete/",
        authoring.binding_delete,
        name="authoring_binding_delete",
    ),
]

# Review: comments and challenges on nodes, sign-off, versions and their diffs.

urlpatterns += [
    path(
        "cases/<int:case_id>/nodes/<str:identifier>/comments/",
        review_views.comment_create,
        name="comment_create",
    ),
    path(
        "cases/<int:case_id>/nodes/<str:identifier>/challenges/",
        review_views.challenge_create,
        name="challenge_create",
    ),
    path(
        "cases/<int:case_id>/challenges/<int:challenge_id>/resolve/",
        review_views.challenge_resolve,
        name="challenge_resolve",
    ),
    path(
        "cases/<int:case_id>/bindings/<int:binding_id>/withdrawals/",
        review_views.run_withdraw,
        name="run_withdraw",
    ),
    path(
        "cases/<int:case_id>/criterion-changes/<int:change_id>/acknowledge/",
        review_views.criterion_change_acknowledge,
        name="criterion_change_acknowledge",
    ),
    path(
        "cases/<int:case_id>/nodes/<str:identifier>/attestations/",
        review_views.attestation_create,
        name="attestation_create",
    ),
    path(
        "cases/<int:case_id>/challenges/<int:challenge_id>/respond/",
        review_views.challenge_respond,
        name="challenge_respond",
    ),
    path(
        "cases/<int:case_id>/challenges/<int:challenge_id>/reject-response/",
        review_views.challenge_reject_response,
        name="challenge_reject_response",
    ),
    path(
        "cases/<int:case_id>/conditions/<int:condition_id>/close/",
        review_views.condition_close,
        name="condition_close",
    ),
    path("cases/<int:case_id>/versions/", review_views.version_list, name="version_list"),
    path(
        "cases/<int:case_id>/versions/sign-off/",
        review_views.version_sign_off,
        name="version_sign_off",
    ),
    path("cases/<int:case_id>/versions/diff/", review_views.version_diff, name="version_diff"),
    path(
        "cases/<int:case_id>/versions/<int:number>/",
        review_views.version_detail,
        name="version_detail",
    ),
    path(
        "cases/<int:case_id>/versions/<int:number>/sign/",
        review_views.version_cosign,
        name="version_cosign",
    ),
]

# Access: the members of a case (owners manage them) and its audit trail.

urlpatterns += [
    path("cases/<int:case_id>/members/", members_views.case_members, name="case_members"),
    path(
        "cases/<int:case_id>/members/<str:username>/role/",
        members_views.member_change_role,
        name="case_member_role",
    ),
    path(
        "cases/<int:case_id>/members/<str:username>/remove/",
        members_views.member_remove,
        name="case_member_remove",
    ),
    path("cases/<int:case_id>/audit/", audit_views.case_audit, name="case_audit"),
]

# Projects: their members (owners manage them) and the shares they give and receive.
urlpatterns += [
    path("projects/<int:project_id>/", projects_views.project_members, name="project_members"),
    path(
        "projects/<int:project_id>/members/<str:username>/remove/",
        projects_views.project_member_remove,
        name="project_member_remove",
    ),
]
