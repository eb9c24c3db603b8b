"""Grader audits: a reviewer marks how a sample's score was graded (wrong needs a note); the
run page shows the grader's audited error rate per score with its 95% interval."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from evidence import services as evidence_services
from evidence.models import GraderAudit, SampleResult

pytestmark = pytest.mark.django_db

INSPECT = Path(__file__).resolve().parent.parent / "fixtures" / "inspect"


@pytest.fixture
def run(eager_celery, django_capture_on_commit_callbacks, lab):
    upload = io.BytesIO((INSPECT / "arith-success.eval").read_bytes())
    upload.name = "arith-success.eval"
    with django_capture_on_commit_callbacks(execute=True):
        run = evidence_services.log_submit(upload=upload, project=lab).runs[0]
    run.refresh_from_db()
    return run


def audit(client, run, result, **form):
    return client.post(f"/runs/{run.pk}/results/{result.pk}/audit/", form)


def results(run, count):
    return list(SampleResult.objects.filter(run=run, epoch=1).order_by("sample_id")[:count])


def test_a_reviewer_marks_gradings_and_the_run_page_shows_the_error_rate(
    client, bound_case, reviewer, run
):
    client.force_login(reviewer)
    sample = results(run, 1)[0]
    page = client.get(f"/runs/{run.pk}/samples/{sample.sample_id}/?epoch=1").content.decode()
    assert f'action="/runs/{run.pk}/results/{sample.pk}/audit/"' in page
    response = audit(client, run, sample, score="match", verdict="wrong", note="It said 13.")
    assert response.status_code == 302
    assert response["Location"] == f"/runs/{run.pk}/samples/{sample.sample_id}/?epoch=1#scores"
    page = client.get(response["Location"]).content.decode()
    assert "graded wrong" in page and "It said 13." in page and "by bob" in page

    # Ten samples audited, two found wrong: 2/10, Clopper–Pearson 95% 0.0252 – 0.5561.
    for i, other in enumerate(results(run, 10)[1:]):
        verdict = "wrong" if i == 0 else "right"
        audit(client, run, other, score="match", verdict=verdict, note="checked")
    run_page = client.get(f"/runs/{run.pk}/").content.decode()
    rates = run_page[run_page.index('id="grader-audits"') :]
    assert '<td class="num">2/10</td>' in rates
    assert "0.2</td>" in rates and "0.02521 – 0.5561" in rates

    # The latest verdict on a sample counts: the first one is found right after all.
    audit(client, run, sample, score="match", verdict="right", note="13 was the target.")
    rates = client.get(f"/runs/{run.pk}/").content.decode()
    assert '<td class="num">1/10</td>' in rates
    assert GraderAudit.objects.filter(sample=sample).count() == 2  # the trail stays


def test_refusals_are_sentences_and_nothing_is_recorded(client, bound_case, reviewer, run):
    client.force_login(reviewer)
    sample = results(run, 1)[0]
    page = client.get(
        audit(client, run, sample, score="match", verdict="wrong", note=" ")["Location"]
    ).content.decode()
    assert "Say in the note why the grading is wrong." in page
    response = audit(client, run, sample, score="nope", verdict="right", note="")
    assert "has no score" in client.get(response["Location"]).content.decode()
    response = audit(client, run, sample, score="match", verdict="maybe", note="x")
    assert "right or wrong" in client.get(response["Location"]).content.decode()
    response = audit(client, run, sample, score="match", verdict="wrong", note="x" * 4001)
    assert "at most 4,000 characters" in client.get(response["Location"]).content.decode()
    assert client.post(f"/runs/{run.pk}/results/999999/audit/", {}).status_code == 404
    assert client.get(f"/runs/{run.pk}/results/{sample.pk}/audit/").status_code == 405
    assert not GraderAudit.objects.exists()


def test_viewers_read_audits_but_do_not_make_them_and_outsiders_see_nothing(
    client, bound_case, reviewer, viewer, outsider, run
):
    sample = results(run, 1)[0]
    client.force_login(reviewer)
    hostile = '<script>alert("x")</script>'
    audit(client, run, sample, score="match", verdict="wrong", note=hostile)
    client.force_login(viewer)
    page = client.get(f"/runs/{run.pk}/samples/{sample.sample_id}/?epoch=1").content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "/audit/" not in page  # no form
    response = audit(client, run, sample, score="match", verdict="right", note="")
    assert response.status_code == 403
    client.force_login(outsider)
    response = audit(client, run, sample, score="match", verdict="right", note="")
    assert response.status_code == 404
    assert GraderAudit.objects.count() == 1
