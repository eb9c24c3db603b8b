"""REST API for evaluation runs: upload logs, read runs. Thin: evidence.services does the work."""

from __future__ import annotations

import json

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from evidence import conf, selectors, services
from evidence.api.serializers import RunSerializer, RunUploadResultSerializer, RunUploadSerializer
from evidence.filtersets import EvaluationRunFilterSet


class RunDetailApi(generics.RetrieveAPIView):
    """One run: status (with a reason when it failed), harness status, counts, metrics and
    statistics per score, counted per sample with each sample's epochs reduced first: k of n
    samples with rate and Clopper–Pearson and Wilson 95% bounds for a binary score, mean and
    stderr for every score, and the trial counts beside (k_trials, n_trials, k_any,
    partial_trials, no_answer_trials); see docs/evidence-formats.md."""

    serializer_class = RunSerializer

    def get_queryset(self):
        return selectors.runs_with_results()


class RunCollectionApi(generics.ListAPIView):
    """GET: evaluation runs, newest first, filterable by task, model, status, harness and date.
    POST: upload a log."""

    serializer_class = RunSerializer
    filterset_class = EvaluationRunFilterSet
    parser_classes = [MultiPartParser]
    required_scope = {"GET": "read", "POST": "ingest"}  # API-token scopes (see settings)

    def get_queryset(self):
        return selectors.runs_with_results()

    @extend_schema(
        request={"multipart/form-data": RunUploadSerializer},
        responses={
            202: OpenApiResponse(RunUploadResultSerializer, description="Stored; parsing queued."),
            200: OpenApiResponse(
                RunUploadResultSerializer,
                description="This file, or a log with the same harness eval id, was posted "
                "before: the existing run.",
            ),
            413: OpenApiResponse(description="The file exceeds the upload limit."),
            422: OpenApiResponse(
                RunUploadResultSerializer,
                description="Stored, but not a log we can read: a failed run with the reason.",
            ),
        },
        description=(
            "Upload an evaluation log as multipart field `file`. Needs the ingest permission. "
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
        results = []
        for upload in _results_before_samples(files):
            try:
                results.append(
                    services.log_submit(upload=upload, metadata=metadata, uploaded_by=request.user)
                )
            except services.UploadRefused as exc:
                return Response({"detail": exc.message}, status=exc.status_code)
        runs = [run for result in results for run in result.runs]
        first = runs[0]
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
        body = {
            "id": first.pk,
            "status": first.status,
            "url": request.build_absolute_uri(first.get_absolute_url()),
            "error": first.error,
            "runs": serializer.data,
        }
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
