"""REST API for evaluation runs: upload logs, read runs. Thin: evidence.services does the work."""

from __future__ import annotations

import json

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from evidence import conf, projects, selectors, services
from evidence.api.serializers import (
    RunSerializer,
    RunStatisticSerializer,
    RunSummarySerializer,
    RunUploadResultSerializer,
    RunUploadSerializer,
)
from evidence.filtersets import EvaluationRunFilterSet
from evidence.models import EvaluationRun, RunStatistic


class RunDetailApi(generics.RetrieveAPIView):
    """One run: status (with a reason when it failed), harness status, counts, metrics and
    statistics per score, counted per sample with each sample's epochs reduced first: k of n
    samples with rate and Clopper–Pearson and Wilson 95% bounds for a binary score, mean and
    stderr for every score, and the trial counts beside (k_trials, n_trials, k_any,
    partial_trials, no_answer_trials); see docs/evidence-formats.md. Only members of the run's
    project (or of a case of it), and members of a project it is shared with, see it; for
    everyone else it does not exist (404)."""

    serializer_class = RunSerializer

    def get_queryset(self):
        return selectors.runs_visible_to(user=self.request.user, token=self.request.auth)


class RunStatisticsApi(generics.ListAPIView):
    """One run's per-score statistics (k, n, rate, Clopper–Pearson and Wilson 95% bounds),
    by score name, paged (`limit`, `offset`)."""

    serializer_class = RunStatisticSerializer
    queryset = RunStatistic.objects.none()  # for the schema; get_queryset is the real one

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        visible = projects.visible_runs(user=self.request.user, token=self.request.auth)
        runs = EvaluationRun.objects.filter(pk__in=visible.values("pk")).only("pk")
        run = generics.get_object_or_404(runs, pk=self.kwargs["pk"])
        return run.statistics.order_by("name", "id")


class RunCollectionApi(generics.ListAPIView):
    """GET: the evaluation runs you may see (your projects' and those shared with them), newest
    first, filterable by task, model, status, harness and date; each run as a summary (its
    metrics and statistics are on its own URL). POST: upload a log into a project."""

    serializer_class = RunSummarySerializer
    filterset_class = EvaluationRunFilterSet
    parser_classes = [MultiPartParser]
    required_scope = {"GET": "read", "POST": "ingest"}  # API-token scopes (see settings)

    def get_queryset(self):
        visible = projects.visible_runs(user=self.request.user, token=self.request.auth)
        return EvaluationRun.objects.select_related("log_file__uploaded_by", "project").filter(
            pk__in=visible.values("pk")
        )

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
                "projects and no `project` field, a token of no project), the log says it "
                "started or finished more than 5 minutes in the future, or `metadata` is too "
                "large, too deep or contains a NUL character.",
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
            "or `failed`. Only the first EVIDENCE_HEADER_READ_BYTES of the file are read "
            "here: a larger log that cannot be read answers 202 and its run fails with the "
            "reason. `metadata` over EVIDENCE_MAX_METADATA_BYTES or nested deeper than "
            "EVIDENCE_MAX_METADATA_DEPTH, or containing a NUL character, answers 400."
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
        try:
            results = services.logs_submit(
                uploads=files, metadata=metadata, uploaded_by=request.user, project=project
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
    """The upload's `metadata` field, bounded before it is parsed (size), while (nesting, which
    the JSON parser would meet as a RecursionError) and after (NUL, which PostgreSQL refuses)."""
    if raw in (None, ""):
        return {}
    limit = conf.setting("MAX_METADATA_BYTES")
    if hasattr(raw, "read"):
        raw = raw.read(limit + 1)
    if len(raw) > limit:
        raise ValidationError(
            {
                "metadata": [
                    f"metadata is longer than {limit:,} bytes (EVIDENCE_MAX_METADATA_BYTES)."
                ]
            }
        )
    depth = conf.setting("MAX_METADATA_DEPTH")
    if _nesting(raw) > depth:
        raise ValidationError(
            {
                "metadata": [
                    f"metadata nests deeper than {depth} levels (EVIDENCE_MAX_METADATA_DEPTH)."
                ]
            }
        )
    try:
        value = json.loads(raw)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError({"metadata": [f"metadata is not valid JSON: {exc}."]}) from exc
    if not isinstance(value, dict):
        raise ValidationError({"metadata": ["metadata must be a JSON object."]})
    if _has_nul(value):
        raise ValidationError({"metadata": ["metadata contains a NUL character (\\u0000)."]})
    return value


def _has_nul(value) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _nesting(raw: str | bytes) -> int:
    """How deep the brackets of a JSON text nest (outside strings), without parsing it."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
