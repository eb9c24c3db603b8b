"""Pages of an evaluation run: provenance, metrics, statistics and samples; its progress line
and its original log file."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from evidence import selectors as evidence_selectors
from evidence.choices import RunStatus
from safetycase import selectors
from safetycase.forms import SampleFilterForm
from safetycase.views.access import run_for_user_or_404

SAMPLES_PER_PAGE = 50
FINISHED = (RunStatus.INGESTED, RunStatus.FAILED)


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
    if request.htmx and request.htmx.target == "sample-results":
        return render(request, "evidence/_run_sample_results.html", context)
    # The criteria this run is evidence for, with its role in each ledger.
    context["ledger_entries"] = selectors.run_ledger_entries(run=run, user=request.user)
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
