"""The runs index: the runs a user may see, filtered, each with the nodes that cite it, and
the upload form (several files into one of the uploader's projects, then each run's status)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evidence import projects
from evidence import services as evidence_services
from evidence.models import EvaluationRun
from safetycase import services
from tests.safetycase.conftest import generic_run

pytestmark = pytest.mark.django_db

INSPECT = Path(__file__).resolve().parent.parent / "fixtures" / "inspect"


@pytest.fixture
def submit(eager_celery, django_capture_on_commit_callbacks, lab):
    def submit_log(log: dict, project=None):
        upload = io.BytesIO(json.dumps(log).encode())
        upload.name = "run.json"
        with django_capture_on_commit_callbacks(execute=True):
            run = evidence_services.log_submit(upload=upload, project=project or lab).runs[0]
        run.refresh_from_db()
        return run

    return submit_log


def may_ingest(user):
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="evidence", codename="ingest_run")
    )


def test_the_index_lists_only_the_runs_the_user_may_see(client, viewer, outsider, submit):
    mine = submit(generic_run("mine", 0, 300))
    theirs_project = projects.project_create(name="elsewhere", owner=outsider)
    theirs = submit(generic_run("theirs", 0, 300), project=theirs_project)
    client.force_login(viewer)
    page = client.get("/runs/").content.decode()
    assert f'href="/runs/{mine.pk}/"' in page and f'href="/runs/{theirs.pk}/"' not in page
    assert "1 run" in page
    client.force_login(outsider)
    page = client.get("/runs/").content.decode()
    assert f'href="/runs/{theirs.pk}/"' in page and f'href="/runs/{mine.pk}/"' not in page


def test_the_index_filters_by_task_model_harness_status_and_date(client, viewer, submit):
    first = submit(generic_run("a", 0, 300))
    other = generic_run("b", 3, 300, model="other-model")
    other["task"]["name"] = "sandbagging"
    other["run"]["harness"] = "inspect-like"
    second = submit(other)
    client.force_login(viewer)

    def listed(query):
        page = client.get("/runs/" + query).content.decode()
        return {run.pk for run in (first, second) if f'href="/runs/{run.pk}/"' in page}

    assert listed("") == {first.pk, second.pk}
    assert listed("?task=sandbag") == {second.pk}
    assert listed("?model=example") == {first.pk}
    assert listed("?harness=inspect") == {second.pk}
    assert listed("?status=ingested") == {first.pk, second.pk}
    assert listed("?status=failed") == set()
    today = first.created_at.date().isoformat()
    assert listed(f"?uploaded_from={today}&uploaded_to={today}") == {first.pk, second.pk}
    assert listed("?uploaded_to=2000-01-01") == set()
    # A date that is not one is no filter, and says so.
    page = client.get("/runs/?uploaded_from=yesterday")
    assert page.status_code == 200 and "Enter a valid date" in page.content.decode()


def test_runs_link_to_the_nodes_that_cite_them_and_back(
    client, bound_case, viewer, outsider, lab, submit
):
    cited = submit(generic_run("cited", 0, 300))
    other_model = submit(generic_run("other-model", 0, 300, model="another"))
    client.force_login(viewer)
    page = client.get("/runs/").content.decode()
    row = page[page.index(f'href="/runs/{cited.pk}/"') :]
    assert f'href="/cases/{bound_case.pk}/?node=Sn1"' in row.split("</tr>")[0]
    row = page[page.index(f'href="/runs/{other_model.pk}/"') :]
    assert "?node=" not in row.split("</tr>")[0]  # the binding picks the case's model only
    run_page = client.get(f"/runs/{cited.pk}/").content.decode()
    assert f'href="/cases/{bound_case.pk}/?node=Sn1"' in run_page
    assert f'href="/cases/{bound_case.pk}/nodes/Sn1/"' in run_page
    # A case of another project cites a run of lab only once lab shares it with that project.
    elsewhere = projects.project_create(name="elsewhere", owner=outsider)
    other_case = services.case_create(
        name="Other case", model_name="example-model", model_version="2026-11", project=elsewhere
    )
    services.membership_set(case=other_case, user=viewer, role="viewer")
    services.node_create_do(case=other_case, identifier="Sn9", type="solution", statement="S")
    services.binding_create_do(
        node=other_case.nodes.get(identifier="Sn9"),
        expression="k == 0",
        selector={"task": "oversight_subversion"},
    )
    assert f"/cases/{other_case.pk}/" not in client.get("/runs/").content.decode()
    lab_owner = bound_case.memberships.get(role="owner").user
    projects.share_create(
        actor=lab_owner, from_project=lab, to_project_name="elsewhere", run_ids=[cited.pk]
    )
    page = client.get(f"/runs/{cited.pk}/").content.decode()
    assert f'href="/cases/{other_case.pk}/?node=Sn9"' in page


def test_index_queries_do_not_grow_with_runs_or_citations(client, bound_case, viewer, submit):
    submit(generic_run("r0", 0, 300))
    client.force_login(viewer)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/runs/").status_code == 200
        return len(captured)

    few = queries()
    for i in range(1, 8):
        submit(generic_run(f"r{i}", i, 300, model="another" if i % 2 else "example-model"))
    assert queries() == few
    assert few <= 14


def test_upload_form_stores_several_files_and_follows_their_status(
    client, viewer, lab, eager_celery, django_capture_on_commit_callbacks
):
    may_ingest(viewer)
    client.force_login(viewer)
    page = client.get("/runs/").content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="files"' in page
    files = [
        SimpleUploadedFile("arith.eval", (INSPECT / "arith-success.eval").read_bytes()),
        SimpleUploadedFile("run.json", json.dumps(generic_run("form", 0, 300)).encode()),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/runs/", {"files": files, "project": "lab"})
    assert response.status_code == 302
    runs = list(EvaluationRun.objects.filter(project=lab).order_by("id"))
    assert [r.status for r in runs] == ["ingested", "ingested"]
    assert response["Location"] == f"/runs/?uploaded={runs[0].pk},{runs[1].pk}"
    page = client.get(response["Location"]).content.decode()
    assert "2 files uploaded to lab." in page and "Just uploaded" in page
    assert page.count('data-run-status="ingested"') >= 4  # the new list, and the index


def test_a_queued_run_polls_its_status_in_the_index(client, viewer, lab, monkeypatch):
    monkeypatch.setattr(evidence_services, "_enqueue_ingest", lambda run_id: None)
    may_ingest(viewer)
    client.force_login(viewer)
    upload = SimpleUploadedFile("run.json", json.dumps(generic_run("q", 0, 300)).encode())
    response = client.post("/runs/", {"files": [upload], "project": "lab"})
    run = EvaluationRun.objects.get(project=lab)
    page = client.get(response["Location"]).content.decode()
    assert f'hx-get="/runs/{run.pk}/progress/?row=1"' in page
    row = client.get(f"/runs/{run.pk}/progress/?row=1", HTTP_HX_REQUEST="true")
    assert 'data-run-status="queued"' in row.content.decode() and "HX-Refresh" not in row


def test_upload_refusals_are_sentences(client, viewer, outsider, lab):
    client.force_login(viewer)
    upload = SimpleUploadedFile("run.json", json.dumps(generic_run("x", 0, 300)).encode())
    assert client.post("/runs/", {"files": [upload], "project": "lab"}).status_code == 403
    assert "needs the ingest permission" in client.get("/runs/").content.decode()
    may_ingest(viewer)
    response = client.post("/runs/", {"project": "lab"})
    assert response.status_code == 400
    assert "Choose at least one log file" in response.content.decode()
    projects.project_create(name="elsewhere", owner=outsider)
    upload.seek(0)
    response = client.post("/runs/", {"files": [upload], "project": "elsewhere"})
    assert response.status_code == 400  # not one of the choices: only her projects are
    assert EvaluationRun.objects.count() == 0


def test_the_upload_script_gets_the_address_to_go_to(
    client, viewer, lab, eager_celery, django_capture_on_commit_callbacks
):
    may_ingest(viewer)
    client.force_login(viewer)
    upload = SimpleUploadedFile("run.json", json.dumps(generic_run("js", 0, 300)).encode())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/runs/", {"files": [upload], "project": "lab"}, HTTP_X_UPLOAD_FORM="1"
        )
    run = EvaluationRun.objects.get(project=lab)
    assert response.json() == {"location": f"/runs/?uploaded={run.pk}"}


def test_an_upload_over_the_limit_is_refused_before_it_is_read(client, viewer, settings):
    settings.EVIDENCE = {**getattr(settings, "EVIDENCE", {}), "MAX_UPLOAD_BYTES": 1000}
    may_ingest(viewer)
    client.force_login(viewer)
    big = SimpleUploadedFile("run.json", b" " * (2 * 1024 * 1024))
    response = client.post("/runs/", {"files": [big], "project": "lab"})
    assert response.status_code == 413
    assert "larger than the limit of 1,000 bytes" in response.content.decode()
    small_but_over = SimpleUploadedFile("run.json", b"{" + b" " * 5000 + b"}")
    response = client.post("/runs/", {"files": [small_but_over], "project": "lab"})
    assert response.status_code == 400  # read, then refused by the upload service
    assert "EVIDENCE_MAX_UPLOAD_BYTES" in response.content.decode()
    assert EvaluationRun.objects.count() == 0
