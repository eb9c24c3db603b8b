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
    path("templates/", views.TemplateListApi.as_view(), name="api_template_list"),
    path(
        "templates/<str:template_id>/",
        views.TemplateDetailApi.as_view(),
        name="api_template_detail",
    ),
]
