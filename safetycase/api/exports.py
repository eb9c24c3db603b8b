"""REST API for PDF exports of a case. Members of the case (any role) may export it; others get
404, so case names do not leak.

`GET /cases/{id}/export.pdf` answers with the PDF for cases up to SAFETYCASE_PDF_SYNC_MAX_NODES
nodes; a larger case is queued instead (202 + Location of the export). `POST /cases/{id}/exports/`
always queues; `GET .../exports/{export_id}/` tells the status and progress, and
`.../download` gives the file once it is ready. `GET /cases/{id}/versions/{number}/export.pdf`
answers with the PDF of a signed version, built from its frozen snapshot.
"""

from __future__ import annotations

import json

from django.http import FileResponse, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from safetycase import selectors, services
from safetycase.adapters.typst import PdfError
from safetycase.models import PdfExport


class PdfRenderer(BaseRenderer):
    """Lets clients ask for `Accept: application/pdf`; error bodies are still JSON text."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode("utf-8")


class PdfExportSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="This export's status.")
    download_url = serializers.SerializerMethodField(
        help_text="Where to download the PDF; null until the export is done."
    )
    created_by = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField(
        help_text="The number of the signed version exported; null for the working copy."
    )

    class Meta:
        model = PdfExport
        fields = [
            "id",
            "version",
            "status",
            "progress",
            "stage",
            "pdfa",
            "pages",
            "content_hash",
            "error",
            "created_by",
            "created_at",
            "finished_at",
            "url",
            "download_url",
        ]

    def get_url(self, export: PdfExport) -> str:
        return self._absolute(reverse("api_case_export_detail", args=[export.case_id, export.pk]))

    def get_download_url(self, export: PdfExport) -> str | None:
        if export.status != PdfExport.Status.DONE:
            return None
        return self._absolute(reverse("api_case_export_download", args=[export.case_id, export.pk]))

    def get_version(self, export: PdfExport) -> int | None:
        return export.version.number if export.version_id else None

    def get_created_by(self, export: PdfExport) -> str | None:
        return export.created_by.get_username() if export.created_by else None

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class PdfExportCreateSerializer(serializers.Serializer):
    pdfa = serializers.BooleanField(
        default=False, help_text="Write PDF/A-2b (for archiving) instead of plain PDF."
    )
    version = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Export this signed version (its number) instead of the working copy.",
    )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def pdf_response(content: bytes, filename: str, *, content_hash: str, pages: int) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Hash"] = content_hash
    response["X-Page-Count"] = str(pages)
    return response


def _queued(request, export: PdfExport) -> Response:
    data = PdfExportSerializer(export, context={"request": request}).data
    response = Response(data, status=status.HTTP_202_ACCEPTED)
    response["Location"] = data["url"]
    return response


def _failure(exc: Exception) -> Response:
    return Response(
        {"detail": f"The PDF could not be produced: {exc}"},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


class CaseExportPdfApi(APIView):
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(
        operation_id="v1_cases_export_pdf",
        parameters=[
            OpenApiParameter("pdfa", bool, description="PDF/A-2b for archiving (`pdfa=1`).")
        ],
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The case as PDF. `X-Content-Hash` is the sha256 of the exported "
                "data shown on its cover; `X-Page-Count` its number of pages.",
            ),
            (202, "application/json"): OpenApiResponse(
                PdfExportSerializer,
                description="A large case: the export is queued; poll `Location`.",
            ),
            (404, "application/json"): OpenApiResponse(
                description="No such case, or you are not a member."
            ),
        },
        description=(
            "The case as a PDF for reviewers: cover with the content hash, summary, GSN "
            "diagrams coloured by status, the argument as text, the evidence runs with their "
            "log hashes, assumptions and flags. Cases with more than "
            "SAFETYCASE_PDF_SYNC_MAX_NODES nodes (300 by default) are rendered by a worker: "
            "the answer is then 202 with the export's status URL in `Location`."
        ),
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        pdfa = _truthy(request.query_params.get("pdfa"))
        if selectors.case_is_large(case=case):
            export = services.pdf_export_request(actor=request.user, case=case, pdfa=pdfa)
            return _queued(request, export)
        try:
            result = services.case_export_pdf(case=case, pdfa=pdfa)
        except PdfError as exc:
            return _failure(exc)
        return pdf_response(
            result.content, result.filename, content_hash=result.content_hash, pages=result.pages
        )


class VersionExportPdfApi(APIView):
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(
        operation_id="v1_cases_versions_export_pdf",
        parameters=[
            OpenApiParameter("pdfa", bool, description="PDF/A-2b for archiving (`pdfa=1`).")
        ],
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The signed version as PDF. `X-Content-Hash` is the sha256 of the "
                "exported data shown on its cover; `X-Version-Hash` the version's chained "
                "content hash; `X-Page-Count` its number of pages.",
            ),
            (202, "application/json"): OpenApiResponse(
                PdfExportSerializer,
                description="A large version: the export is queued; poll `Location`.",
            ),
            (404, "application/json"): OpenApiResponse(
                description="No such case or version, or you are not a member of the case."
            ),
        },
        description=(
            "A signed version of the case as a PDF, built from the version's frozen snapshot "
            "(not from the live case): the cover names the version, its hash, its signers and "
            "the sign-off date, and the summary lists what changed since the version before. "
            "The same version always gives the same document. Versions with more than "
            "SAFETYCASE_PDF_SYNC_MAX_NODES elements are rendered by a worker: the answer is "
            "then 202 with the export's status URL in `Location`."
        ),
    )
    def get(self, request, case_id: int, number: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        version = selectors.version_for_case(case=case, number=number)
        version.case = case  # keeps the membership cache of the selector that loaded the case
        pdfa = _truthy(request.query_params.get("pdfa"))
        if selectors.version_is_large(version=version):
            export = services.pdf_export_request(
                actor=request.user, case=case, pdfa=pdfa, version=version
            )
            return _queued(request, export)
        try:
            result = services.version_export_pdf(version=version, pdfa=pdfa)
        except PdfError as exc:
            return _failure(exc)
        response = pdf_response(
            result.content, result.filename, content_hash=result.content_hash, pages=result.pages
        )
        response["X-Version-Hash"] = version.content_hash
        return response


class CaseExportListApi(APIView):
    @extend_schema(
        responses=PdfExportSerializer(many=True),
        description="The case's PDF exports, newest first (at most 50).",
    )
    def get(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        exports = case.pdf_exports.select_related("created_by", "version")[:50]
        return Response(PdfExportSerializer(exports, many=True, context={"request": request}).data)

    @extend_schema(
        request=PdfExportCreateSerializer,
        responses={202: PdfExportSerializer},
        description=(
            "Queue a PDF export of the case (or, with `version`, of that signed version), "
            "whatever its size; a worker renders it. Poll the returned `url` (also in "
            "`Location`) until `status` is `done`, then fetch `download_url`. An unknown "
            "version number is a 404."
        ),
    )
    def post(self, request, case_id: int):
        case = selectors.case_for_user(user=request.user, case_id=case_id)
        serializer = PdfExportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        number = serializer.validated_data.get("version")
        version = selectors.version_for_case(case=case, number=number) if number else None
        export = services.pdf_export_request(
            actor=request.user, case=case, pdfa=serializer.validated_data["pdfa"], version=version
        )
        export.refresh_from_db()  # an eager worker may have finished it already
        return _queued(request, export)


def _export(request, case_id: int, export_id: int) -> PdfExport:
    case = selectors.case_for_user(user=request.user, case_id=case_id)
    return selectors.export_for_case(case=case, export_id=export_id)


class CaseExportDetailApi(APIView):
    @extend_schema(
        responses=PdfExportSerializer,
        description="Status of an export: `queued`, `running` (with `progress` in percent and "
        "`stage`), `done` (with `download_url`, `pages` and `content_hash`) or `failed` "
        "(with `error`).",
    )
    def get(self, request, case_id: int, export_id: int):
        export = _export(request, case_id, export_id)
        return Response(PdfExportSerializer(export, context={"request": request}).data)


class CaseExportDownloadApi(APIView):
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF."),
            (409, "application/json"): OpenApiResponse(
                description="The export is not done (yet, or it failed)."
            ),
            (404, "application/json"): OpenApiResponse(description="No such export."),
        },
        description="The PDF of a finished export.",
    )
    def get(self, request, case_id: int, export_id: int):
        export = _export(request, case_id, export_id)
        if export.status != PdfExport.Status.DONE or not export.file:
            return Response(
                {
                    "detail": f"Export {export.pk} is {export.status}, not done.",
                    "status": export.status,
                },
                status=status.HTTP_409_CONFLICT,
            )
        response = FileResponse(
            export.file.open("rb"),
            content_type="application/pdf",
            as_attachment=True,
            filename=services.export_filename(export.case, version=export.version),
        )
        response["X-Content-Hash"] = export.content_hash
        return response
