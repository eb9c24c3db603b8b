"""Pages of the PDF export (included by safetycase.urls)."""

from django.urls import path

from safetycase.views import exports as views

urlpatterns = [
    path("cases/<int:case_id>/export/", views.case_export, name="case_export"),
    path(
        "cases/<int:case_id>/versions/<int:number>/export.pdf",
        views.version_export,
        name="version_export",
    ),
    path(
        "cases/<int:case_id>/export/<int:export_id>/",
        views.case_export_status,
        name="case_export_status",
    ),
]
