"""Pages of an evaluation run: provenance, metrics, statistics and samples; its progress line
and its original log file."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from evidence import audits as evidence_audits
from evidence import conf as evidence_conf
from evidence import projects as evidence_projects
from evidence import selectors as evidence_selectors
from evidence import services as evidence_services
from evidence.choices import RunStatus
from evidence.parsers.base import LogFormatError
from safetycase import selectors
from safetycase.forms import RunIndexFilterForm, RunUploadForm, SampleFilterForm
from safetycase.views.access import run_for_user_or_404

RUNS_PER_PAGE = 50
SAMPLES_PER_PAGE = 50
MESSAGES_PER_PAGE = 100
FINISHED = (RunStatus.INGESTED, RunStatus.FAILED)


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    """The runs the user may see (50 a page, filterable), each with the nodes that cite it,
    and the upload form (POST: several files into one of the user's projects; then the page
    follows each new run's status)."""
    may_upload = request.user.has_perm("evidence.ingest_run")
    if request.method == "POST" and may_upload:
        limit = evidence_conf.setting("MAX_UPLOAD_BYTES")
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 1024 * 1024:
            # Refused before the body is read, as the API does.
            return HttpResponse(
                f"The upload is larger than the limit of {limit:,} bytes.", status=413
            )
    projects = list(evidence_projects.projects_for_user(user=request.user))
    upload_form = RunUploadForm(request.POST or None, request.FILES or None, projects=projects)
    if request.method == "POST":
        if not may_upload:
            return HttpResponseForbidden("Your account may not upload evaluation logs.")
        if upload_form.is_valid():
            uploaded = _upload(request, upload_form)
            if uploaded is not None:
                ids = ",".join(str(pk) for pk in uploaded)
                location = reverse("run_list") + (f"?uploaded={ids}" if ids else "")
                if request.headers.get("X-Upload-Form"):  # static/js/upload.js goes there
                    return JsonResponse({"location": location})
                return redirect(location)
    filter_form = RunIndexFilterForm(request.GET or None, statuses=RunStatus.choices)
    filters = filter_form.cleaned_data if filter_form.is_valid() else {}
    runs = selectors.run_index(user=request.user, **filters)
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    uploaded_ids = [int(v) for v in request.GET.get("uploaded", "").split(",") if v.isdigit()]
    uploaded = list(selectors.run_index(user=request.user).filter(pk__in=uploaded_ids[:50]))
    page_runs = list(page.object_list)
    citations = selectors.nodes_citing_runs(user=request.user, runs=page_runs)
    return render(
        request,
        "evidence/run_list.html",
        {
            "page": page,
            "rows": [(run, citations[run.pk]) for run in page_runs],
            "filter_form": filter_form,
            "upload_form": upload_form,
            "may_upload": may_upload,
            "uploaded": uploaded,
            "query": _query_without_page(request),
        },
        status=400 if request.method == "POST" else 200,
    )


def _upload(request: HttpRequest, form: RunUploadForm) -> list[int] | None:
    """Store the form's files as runs of the chosen project: the new runs' ids, or None (and
    the reason as the page's error) when nothing could be stored."""
    try:
        project = evidence_projects.project_for_upload(
            user=request.user, name=form.cleaned_data["project"]
        )
        results = evidence_services.logs_submit(
            uploads=form.cleaned_data["files"], project=project, uploaded_by=request.user
        )
    except evidence_projects.ProjectRefused as exc:
        form.add_error("project", exc.message)
        return None
    except evidence_services.UploadRefused as exc:
        form.add_error("files", exc.message)
        return None
    runs = {run.pk: run for result in results for run in result.runs}
    pending = sum(1 for result in results if result.pending)
    known = sum(1 for result in results if not result.created and result.runs)
    note = f"{len(results)} file{'s' if len(results) != 1 else ''} uploaded to {project.name}"
    if known:
        note += f"; {known} had been uploaded before (their runs are shown)"
    if pending:
        note += f"; {pending} lm-eval samples file{'s' if pending != 1 else ''} kept until"
        note += " its results file arrives"
    messages.success(request, note + ".")
    return list(runs)


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    """Provenance, metrics and statistics, and the per-sample table (50 a page, filterable);
    to htmx (the filter form and the pager) only the table and its pager."""
    run = run_for_user_or_404(request, run_id)
    statistics = list(run.statistics.all())
    form = SampleFilterForm(request.GET or None, scores=[s.name for s in statistics])
    filters = form.cleaned_data if form.is_valid() else {}
    samples = evidence_selectors.run_samples(
        run=run,
        score=filters.get("score", ""),
        outcome=filters.get("outcome", ""),
        errors_only=bool(filters.get("errors_only")),
    )
    page = Paginator(samples, SAMPLES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "run": run,
        "statistics": statistics,
        "metrics": list(run.metrics.all()),
        "form": form,
        "page": page,
        "score_names": _score_names(page.object_list, statistics),
        "query": _query_without_page(request),
    }
    # The criteria this run is evidence for, with its role in each ledger; they say which
    # outcome of each score is the dangerous one, and the sample marks are coloured so.
    entries = selectors.run_ledger_entries(run=run, user=request.user)
    context["score_meanings"] = selectors.run_score_meanings(
        run=run, entries=entries, statistics=statistics
    )
    if request.htmx and request.htmx.target == "sample-results":
        return render(request, "evidence/_run_sample_results.html", context)
    context["citations"] = selectors.nodes_citing_runs(user=request.user, runs=[run])[run.pk]
    context["audit_rates"] = evidence_audits.audited_error_rates(run=run)
    context["ledger_entries"] = entries
    return render(request, "evidence/run_detail.html", context)


def _score_names(samples, statistics) -> list[str]:
    """The score columns: the run's pass-fail scores first, then any other score the shown
    samples carry."""
    names = [s.name for s in statistics]
    for sample in samples:
        names += [name for name in sample.scores or {} if name not in names]
    return names


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@login_required
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The ingestion status line. The page polls it every second while the run is queued or
    parsing; once it is done, htmx reloads the page to show the results."""
    run = run_for_user_or_404(request, run_id)
    if request.GET.get("row"):  # a run's status in the runs index: polls, never reloads
        return render(request, "evidence/_run_status.html", {"run": run})
    response = render(request, "evidence/_run_progress.html", {"run": run})
    if request.htmx and request.GET.get("polling") and run.status in FINISHED:
        response["HX-Refresh"] = "true"
    return response


@login_required
def run_log(request: HttpRequest, run_id: int) -> FileResponse:
    """The original log file as uploaded (or, with ?file=samples, an lm-eval samples file)."""
    run = run_for_user_or_404(request, run_id)
    log = run.samples_file if request.GET.get("file") == "samples" else run.log_file
    if log is None:
        raise Http404(f"Run {run.pk} has no samples file.")
    return download_response(log)


def download_response(log) -> FileResponse:
    """An uploaded file is never rendered by the browser from our origin (a `.js` or `.html`
    log would otherwise run as the site): always bytes, always a download, never sniffed."""
    response = FileResponse(
        log.file.open("rb"),
        as_attachment=True,
        filename=log.name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def run_sample(request: HttpRequest, run_id: int, sample_id: str) -> HttpResponse:
    """One sample x epoch of a run (`?epoch=N`, else its first): the stored scores, and the
    transcript read now from the original log (input, target, the messages in order, 100 a
    page, the final output, each scorer's answer and explanation, metadata and error)."""
    run = run_for_user_or_404(request, run_id)
    epochs = evidence_selectors.sample_epochs(run=run, sample_id=sample_id)
    if not epochs:
        raise Http404(f"Run {run.pk} has no sample {sample_id!r}.")
    wanted = request.GET.get("epoch", "")
    result = next((r for r in epochs if str(r.epoch) == wanted), None) if wanted else epochs[0]
    if result is None:
        raise Http404(f"Sample {sample_id!r} of run {run.pk} has no epoch {wanted!r}.")
    transcript, unreadable = None, ""
    try:
        transcript = evidence_selectors.sample_transcript(
            run=run, sample_id=sample_id, epoch=result.epoch
        )
    except LogFormatError as exc:
        unreadable = str(exc)
    messages_page = None
    if transcript is not None:
        messages_page = Paginator(transcript.messages, MESSAGES_PER_PAGE).get_page(
            request.GET.get("page")
        )
    return render(
        request,
        "evidence/run_sample.html",
        {
            "run": run,
            "result": result,
            "epochs": epochs,
            "transcript": transcript,
            "messages_page": messages_page,
            "unreadable": unreadable,
            "keeps_transcripts": run.format in evidence_selectors.TRANSCRIPT_FORMATS,
            "audits": evidence_audits.sample_audits(sample=result),
            "may_audit": evidence_audits.may_audit(user=request.user, run=run),
        },
    )


@login_required
@require_POST
def sample_audit(request: HttpRequest, run_id: int, result_id: int) -> HttpResponse:
    """A reviewer's verdict on how one score of one sample result was graded (right or wrong,
    with a note); back to the sample's page."""
    run = run_for_user_or_404(request, run_id)
    result = evidence_selectors.run_samples(run=run).filter(pk=result_id).first()
    if result is None:
        raise Http404(f"Run {run.pk} has no sample result {result_id}.")
    try:
        audit = evidence_audits.audit_record(
            actor=request.user,
            run=run,
            sample=result,
            score=request.POST.get("score", ""),
            verdict=request.POST.get("verdict", ""),
            note=request.POST.get("note", ""),
        )
    except evidence_audits.AuditRefused as exc:
        if exc.status_code == 403:
            return HttpResponseForbidden(exc.message)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Recorded: {audit.score} {audit.get_verdict_display()}.")
    url = reverse("run_sample", args=[run.pk, result.sample_id])
    return redirect(f"{url}?epoch={result.epoch}#scores")
