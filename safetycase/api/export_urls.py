"""API routes of PDF exports (included under /api/v1/ by safetycase.urls)."""

from django.urls import path

from safetycase.api import exports

urlpatterns = [
    path(
        "cases/<int:case_id>/export.pdf",
        exports.CaseExportPdfApi.as_view(),
        name="api_case_export_pdf",
    ),
    path(
        "cases/<int:case_id>/versions/<int:number>/export.pdf",
        exports.VersionExportPdfApi.as_view(),
        name="api_version_export_pdf",
    ),
    path(
        "cases/<int:case_id>/exports/",
        exports.CaseExportListApi.as_view(),
        name="api_case_exports",
    ),
    path(
        "cases/<int:case_id>/exports/<int:export_id>/",
        exports.CaseExportDetailApi.as_view(),
        name="api_case_export_detail",
    ),
    path(
        "cases/<int:case_id>/exports/<int:export_id>/download",
        exports.CaseExportDownloadApi.as_view(),
        name="api_case_export_download",
    ),
]
