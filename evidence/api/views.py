"""REST API for evaluation runs: upload logs, read runs. Thin: evidence.services does the work."""

from __future__ import annotations

import json

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from evidence import conf, projects, selectors, services
from evidence.api.serializers import RunSerializer, RunUploadResultSerializer, RunUploadSerializer
from evidence.filtersets import EvaluationRunFilterSet


class RunDetailApi(generics.RetrieveAPIView):
    """One run: status (with a reason when it failed), harness status, counts, metrics and
    statistics (k, n, rate, Clopper–Pearson and Wilson 95% bounds per score). Only members of
    the run's project (or of a case of it), and members of a project it is shared with, see
    it; for everyone else it does not exist (404)."""

    serializer_class = RunSerializer

    def get_queryset(self):
        return selectors.runs_visible_to(user=self.request.user, token=self.request.auth)


class RunCollectionApi(generics.ListAPIView):
    """GET: the evaluation runs you may see (your projects' and those shared with them), newest
    first, filterable by task, model, status, harness and date. POST: upload a log into a
    project."""

    serializer_class = RunSerializer
    filterset_class = EvaluationRunFilterSet
    parser_classes = [MultiPartParser]
    required_scope = {"GET": "read", "POST": "ingest"}  # API-token scopes (see settings)

    def get_queryset(self):
        return selectors.runs_visible_to(user=self.request.user, token=self.request.auth)

    @extend_schema(
        request={"multipart/form-data": RunUploadSerializer},
        responses={
            202: OpenApiResponse(
                RunUploadResultSerializer,
                description="Stored; parsing queued. A log whose harness id matches a run of "
                "the project but whose content differs is a new run that supersedes the old "
                "one (`notes` says which). An lm-eval samples file whose results have not "
                "arrived yet is kept pending (`status` `pending`, no runs).",
            ),
            200: OpenApiResponse(
                RunUploadResultSerializer,
                description="This file was posted to this project before: the existing run.",
            ),
            400: OpenApiResponse(
                description="No project to put it in (unknown project, not a member, several "
                "projects and no `project` field, a token of no project), or the log says it "
                "started or finished more than 5 minutes in the future.",
            ),
            413: OpenApiResponse(description="The file exceeds the upload limit."),
            422: OpenApiResponse(
                RunUploadResultSerializer,
                description="Stored, but not a log we can read: a failed run with the reason.",
            ),
        },
        description=(
            "Upload an evaluation log as multipart field `file`. Needs the ingest permission. "
            "The run lands in the project of the API token; with a browser session, in the "
            "project named by the `project` field (needed when you are in several). "
            "De-duplication by content and harness id looks only inside that project. "
            "The run is parsed in the background; poll its `url` until `status` is `ingested` "
            "or `failed`."
        ),
    )
    def post(self, request):
        if not request.user.has_perm("evidence.ingest_run"):
            raise PermissionDenied("Your account or token may not upload evaluation logs.")
        limit = conf.setting("MAX_UPLOAD_BYTES")
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 1024 * 1024:
            return Response(
                {"detail": f"The upload is larger than the limit of {limit} bytes."}, status=413
            )
        files = request.FILES.getlist("file")
        if not files:
            raise ValidationError({"file": ["Attach the log as multipart field `file`."]})
        metadata = _metadata(request.data.get("metadata"))
        try:
            project = projects.project_for_upload(
                user=request.user, name=str(request.data.get("project") or ""), token=request.auth
            )
        except projects.ProjectRefused as exc:
            return Response({"detail": exc.message}, status=exc.status_code)
        results = []
        try:
            # One transaction for the whole request: the results and samples files of one
            # lm-eval run are committed together, so their single parse sees both.
            with transaction.atomic():
                for upload in _results_before_samples(files):
                    results.append(
                        services.log_submit(
                            upload=upload,
                            metadata=metadata,
                            uploaded_by=request.user,
                            project=project,
                        )
                    )
        except services.UploadRefused as exc:
            return Response({"detail": exc.message}, status=exc.status_code)
        runs = list({run.pk: run for result in results for run in result.runs}.values())
        if any(result.failed for result in results):
            code = 422
        elif any(result.created for result in results):
            code = status.HTTP_202_ACCEPTED
        else:
            code = status.HTTP_200_OK
        serializer = RunSerializer(
            selectors.runs_with_results().filter(pk__in=[r.pk for r in runs]),
            many=True,
            context={"request": request},
        )
        notes = [note for result in results for note in result.notes]
        if not runs:  # only lm-eval samples files, kept until their results arrive
            body = {"id": None, "status": "pending", "url": None, "error": ""}
        else:
            first = runs[0]
            body = {
                "id": first.pk,
                "status": first.status,
                "url": request.build_absolute_uri(first.get_absolute_url()),
                "error": first.error,
            }
        body.update({"project": project.name, "runs": serializer.data, "notes": notes})
        return Response(body, status=code)


def _metadata(raw) -> dict:
    if raw in (None, ""):
        return {}
    if hasattr(raw, "read"):
        raw = raw.read()
    try:
        value = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"metadata": [f"metadata is not valid JSON: {exc}."]}) from exc
    if not isinstance(value, dict):
        raise ValidationError({"metadata": ["metadata must be a JSON object."]})
    return value


def _results_before_samples(files):
    """lm-evaluation-harness samples files attach to a results run, so results go first."""
    return sorted(files, key=lambda f: f.name.rsplit("/", 1)[-1].startswith("samples_"))
