"""Projects as an attacker meets them, through the real API: a member of another project with
an ingest token of their own tries to plant evidence in a case, read another project's runs,
take a harness id first, or replace another project's samples; and a share gives exactly
what it says.

Expected values are written out from the scenario (which runs exist, who uploaded them), not
read back from the code under test.
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from evidence import projects
from evidence.models import EvaluationRun, LogFile, Project
from safetycase import services
from safetycase.choices import Role
from safetycase.management.commands import load_demo
from safetycase.models import Assessment, EvidenceBinding, Node, SafetyCase
from tests.safetycase.conftest import CRITERION, generic_run

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LM_EVAL = FIXTURES / "lm-eval"
LM_RESULTS = LM_EVAL / "results_2026-11-24T11-15-47.729466.json"
LM_SAMPLES_MC = LM_EVAL / "samples_arith_mc_2026-11-24T11-15-47.729466.jsonl"
HONEYPOT = load_demo.RUNS_DIR / "honeypot.json"


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def upload(client, content: bytes, name: str = "run.json", capture=None, **extra):
    data = {"file": SimpleUploadedFile(name, content), **extra}
    if capture is None:
        return client.post("/api/v1/runs/", data, format="multipart")
    with capture(execute=True):
        return client.post("/api/v1/runs/", data, format="multipart")


def may_ingest(user):
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="evidence", codename="ingest_run")
    )
    return user


@pytest.fixture
def mallory(make_user):
    """A member of another project ("evil") with an ingest-only token and a read token."""
    user = may_ingest(make_user("mallory"))
    evil = projects.project_create(name="evil", owner=user)
    _, ingest_key = services.token_create(user=user, scopes=["ingest"], project=evil)
    _, read_key = services.token_create(user=user, scopes=["read"], project=evil)
    return {"user": user, "project": evil, "ingest": ingest_key, "read": read_key}


@pytest.fixture
def demo(make_user, eager_celery, django_capture_on_commit_callbacks):
    """`load_demo` as `make run` does it: project "demo", admin owner, reviewer reviewer."""
    admin = may_ingest(make_user("admin"))
    make_user("reviewer")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", "--owner", "admin", "--reviewer", "reviewer", stdout=StringIO())
    case = SafetyCase.objects.get(name=load_demo.read_spec()["case"]["name"])
    _, key = services.token_create(user=admin, scopes=["ingest"], project=case.project)
    return {"case": case, "admin": admin, "ingest": key}


def honeypot(*, completed_at: str, trials: int = 2_000_000) -> bytes:
    """The demo's own honeypot run file, claiming 0 defections in `trials` opportunities."""
    document = json.loads(HONEYPOT.read_text())
    document["run"]["completed_at"] = completed_at
    document["run"]["started_at"] = completed_at
    document["results"][0]["trials"] = trials
    document["metadata"]["n_opportunities"] = trials
    return json.dumps(document).encode()


def statuses(case) -> dict[str, str]:
    return dict(services.case_assess(case=case, trigger="manual").statuses)


# --------------------------------------------------------------------------------------------
# Planting


def test_demo_is_in_project_demo_with_admin_owner_and_reviewer_reviewer(demo):
    project = demo["case"].project
    assert project.name == "demo"
    roles = {m.user.username: m.role for m in projects.project_members(project=project)}
    assert roles == {"admin": "owner", "reviewer": "reviewer"}
    assert EvaluationRun.objects.exclude(project=project).count() == 0


def test_another_project_cannot_change_a_status_of_the_demo_by_uploading_evidence(
    demo, mallory, django_capture_on_commit_callbacks
):
    case = demo["case"]
    before = statuses(case)
    # The demo's own verdict on the honeypot: 0 in 3,000 is too few (docs/demo.md), so the
    # planted 0 in 2,000,000 would make it supported if it counted.
    assert before["AL-Sn1"] == "at_risk"
    client = token_client(mallory["ingest"])
    now = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    planted = upload(client, honeypot(completed_at=now), capture=django_capture_on_commit_callbacks)
    # Accepted into the attacker's own project, where it harms no one.
    assert planted.status_code == 202, planted.content
    assert planted.json()["project"] == "evil"
    run = EvaluationRun.objects.get(pk=planted.json()["id"])
    assert (run.project, run.status) == (mallory["project"], "ingested")
    assert statuses(case) == before
    assert (
        not Assessment.objects.filter(case=case, trigger="run_ingested")
        .filter(trigger_detail__contains=str(run.pk))
        .exists()
    )

    files_before = LogFile.objects.count()
    future = upload(client, honeypot(completed_at="2099-01-01T00:00:00Z"))
    assert future.status_code == 400
    assert "future" in future.json()["detail"]
    assert LogFile.objects.count() == files_before  # no rows, no file
    assert statuses(case) == before


def test_a_run_dated_in_the_future_is_refused_even_in_its_own_project(demo):
    client = token_client(demo["ingest"])
    soon = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = upload(client, honeypot(completed_at=soon))
    assert response.status_code == 400
    assert "in the future" in response.json()["detail"]
    slightly = (timezone.now() + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert upload(client, honeypot(completed_at=slightly)).status_code == 202


def test_freshness_never_uses_a_finish_time_later_than_ingestion(bound_case, uploader):
    from safetycase import facts

    document = generic_run("clock-ahead", 0, 3000, days_ago=0)
    document["run"]["completed_at"] = (timezone.now() + timedelta(minutes=4)).isoformat()
    result = _submit(document, bound_case.project, uploader)
    run = EvaluationRun.objects.get(pk=result.runs[0].pk)
    assert run.completed_at > run.ingested_at  # the harness's clock is ahead of ours
    fact = facts.run_facts(runs=[run])[0]
    assert fact.finished_at == run.ingested_at


def _submit(document: dict, project, user):
    from evidence import services as evidence_services

    upload_file = SimpleUploadedFile("run.json", json.dumps(document).encode())
    result = evidence_services.log_submit(upload=upload_file, project=project, uploaded_by=user)
    for run in result.runs:  # parsed here, as a worker would
        evidence_services.run_ingest(run_id=run.pk)
    return result


# --------------------------------------------------------------------------------------------
# Reading


def test_another_project_cannot_list_open_or_download_the_demo_runs(demo, mallory, client):
    demo_run = EvaluationRun.objects.filter(project=demo["case"].project).first()
    reader = token_client(mallory["read"])
    listed = reader.get("/api/v1/runs/").json()
    assert listed["count"] == 0
    assert reader.get(f"/api/v1/runs/{demo_run.pk}/").status_code == 404
    client.force_login(mallory["user"])
    for url in (
        f"/runs/{demo_run.pk}/",
        f"/runs/{demo_run.pk}/progress/",
        f"/runs/{demo_run.pk}/log",
        f"/runs/{demo_run.pk}/log?file=samples",
    ):
        assert client.get(url).status_code == 404, url
    # The demo's members do see them.
    client.force_login(demo["admin"])
    assert client.get(f"/runs/{demo_run.pk}/log").status_code == 200
    assert APIClient().get("/api/v1/runs/").status_code in (401, 403)


def test_the_run_list_shows_each_principal_exactly_its_runs(demo, mallory, make_user):
    demo_runs = set(
        EvaluationRun.objects.filter(project=demo["case"].project).values_list("pk", flat=True)
    )
    own = _submit(generic_run("mallory-1", 0, 10), mallory["project"], mallory["user"]).runs
    reviewer = APIClient()
    reviewer.force_login(make_user("nobody"))
    assert reviewer.get("/api/v1/runs/").json()["count"] == 0
    reviewer.force_login(demo["case"].project.members.get(username="reviewer"))
    ids = {r["id"] for r in _all_pages(reviewer, "/api/v1/runs/?page_size=500")}
    assert ids == demo_runs
    attacker = token_client(mallory["read"])
    assert {r["id"] for r in attacker.get("/api/v1/runs/").json()["results"]} == {own[0].pk}


def _all_pages(client, url):
    results = []
    while url:
        body = client.get(url).json()
        results += body["results"]
        url = body.get("next")
    return results


# --------------------------------------------------------------------------------------------
# Identity of evidence


def test_taking_a_harness_id_first_does_not_take_it_from_its_owner(
    demo, mallory, django_capture_on_commit_callbacks
):
    real = generic_run("victim-run-7", 0, 3000)
    squat = generic_run("victim-run-7", 0, 3_000_000)
    first = upload(
        token_client(mallory["ingest"]),
        json.dumps(squat).encode(),
        capture=django_capture_on_commit_callbacks,
    )
    assert first.status_code == 202
    response = upload(
        token_client(demo["ingest"]),
        json.dumps(real).encode(),
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 202, response.content
    assert response.json()["id"] != first.json()["id"]
    run = EvaluationRun.objects.get(pk=response.json()["id"])
    assert (run.project.name, run.eval_id) == ("demo", "victim-run-7")
    assert run.statistics.get().n == 3000  # the owner's own file, stored and read
    assert run.log_file.project.name == "demo"
    assert run.log_file.file.read() == json.dumps(real).encode()


def test_the_same_bytes_in_two_projects_are_two_runs(demo, mallory):
    content = json.dumps(generic_run("shared-bytes", 0, 100)).encode()
    theirs = upload(token_client(mallory["ingest"]), content)
    ours = upload(token_client(demo["ingest"]), content)
    assert (theirs.status_code, ours.status_code) == (202, 202)
    assert theirs.json()["id"] != ours.json()["id"]
    again = upload(token_client(demo["ingest"]), content)
    assert (again.status_code, again.json()["id"]) == (200, ours.json()["id"])


def test_samples_of_another_project_never_attach_to_our_run(
    api_client_for, uploader, mallory, eager_celery, django_capture_on_commit_callbacks
):
    ours = api_client_for(uploader)
    upload(ours, LM_RESULTS.read_bytes(), LM_RESULTS.name, django_capture_on_commit_callbacks)
    mc = EvaluationRun.objects.get(task="arith_mc")
    # Every score set to 1.0, the documents (hence the task hash) kept.
    forged = "\n".join(
        json.dumps({**row, "acc": 1.0})
        for row in map(json.loads, LM_SAMPLES_MC.read_text().splitlines())
    ).encode()
    for content in (forged, LM_SAMPLES_MC.read_bytes()):
        response = upload(
            token_client(mallory["ingest"]),
            content,
            LM_SAMPLES_MC.name,
            django_capture_on_commit_callbacks,
        )
        assert response.status_code == 202, response.content
        assert (response.json()["status"], response.json()["runs"]) == ("pending", [])
    mc.refresh_from_db()
    assert (mc.samples_file, mc.sample_count) == (None, 0)


def test_a_rescored_log_supersedes_the_old_run_and_bindings_follow_it(
    bound_case, api_client_for, uploader, eager_celery, django_capture_on_commit_callbacks
):
    harness = api_client_for(uploader)
    first = upload(
        harness,
        json.dumps(generic_run("rescored", 0, 3000)).encode(),
        capture=django_capture_on_commit_callbacks,
    )
    assert statuses(bound_case)["Sn1"] == "supported"
    second = upload(
        harness,
        json.dumps(generic_run("rescored", 40, 3000)).encode(),
        capture=django_capture_on_commit_callbacks,
    )
    assert second.status_code == 202, second.content
    assert "supersedes" in second.json()["notes"][0]
    old = EvaluationRun.objects.get(pk=first.json()["id"])
    new = EvaluationRun.objects.get(pk=second.json()["id"])
    assert old.superseded_at is not None and new.supersedes == old
    assert harness.get(f"/api/v1/runs/{old.pk}/").json()["superseded_by"] == new.pk
    # 40 of 3000 fails the 1% bound: the case now rests on the new run alone.
    assert statuses(bound_case)["Sn1"] == "defeated"


def test_a_log_replacing_a_failed_or_started_run_supersedes_it(bound_case, uploader):
    lab = bound_case.project
    earlier = {}
    for eval_id, fields in (
        ("was-failed", {"status": "failed", "error": "cut short"}),
        ("was-started", {"status": "ingested", "log_status": "started"}),
    ):
        content = SimpleUploadedFile("old.json", eval_id.encode())
        log_file = LogFile.objects.create(
            project=lab, name="old.json", size=len(eval_id), sha256=eval_id.ljust(64, "0")
        )
        log_file.file.save("old.json", content)
        earlier[eval_id] = EvaluationRun.objects.create(
            project=lab, log_file=log_file, eval_id=eval_id, **fields
        )
    for eval_id, old in earlier.items():
        done = _submit(generic_run(eval_id, 0, 3000), lab, uploader)
        assert done.created and done.runs[0].supersedes_id == old.pk
        old.refresh_from_db()
        assert old.superseded_at is not None


# --------------------------------------------------------------------------------------------
# Sharing


@pytest.fixture
def institute(make_user, bound_case):
    """A safety institute's project with a case bound like the lab's, reviewed by sam."""
    sam = make_user("sam")
    project = projects.project_create(name="institute", owner=make_user("ines"))
    case = services.case_create(
        name="Audit", model_name="example-model", model_version="2026-11", project=project
    )
    services.membership_set(case=case, user=sam, role=Role.REVIEWER)
    goal = services.node_create_do(case=case, identifier="G1", type="goal", statement="Safe")
    assert goal
    services.node_create_do(case=case, identifier="Sn1", type="solution", statement="Evals")
    services.link_create_do(case=case, source="G1", target="Sn1", type="supported_by")
    services.binding_create_do(
        node=Node.objects.get(case=case, identifier="Sn1"),
        expression=CRITERION,
        selector={"task": "oversight_subversion", "scorer": "covert_action"},
    )
    return {"project": project, "case": case, "reviewer": sam}


def test_a_shared_run_is_visible_and_usable_exactly_as_shared(
    bound_case, institute, author, uploader, api_client_for, eager_celery
):
    lab = bound_case.project
    shared = _submit(generic_run("lab-good", 0, 3000), lab, uploader).runs[0]
    kept = _submit(generic_run("lab-bad", 90, 3000), lab, uploader).runs[0]
    case = institute["case"]
    assert statuses(case)["Sn1"] == "at_risk"  # no evidence of its own project
    owner = api_client_for(author)
    response = owner.post(
        f"/api/v1/projects/{lab.pk}/shares/",
        {"to_project": "institute", "runs": [shared.pk], "note": "For the audit"},
        format="json",
    )
    assert response.status_code == 201, response.content
    share_id = response.json()["id"]
    assert statuses(case)["Sn1"] == "supported"  # the shared good run; never the bad one
    sam = APIClient()
    sam.force_login(institute["reviewer"])
    assert sam.get(f"/api/v1/runs/{shared.pk}/").status_code == 200
    assert sam.get(f"/runs/{shared.pk}/log").status_code == 200
    assert sam.get(f"/api/v1/runs/{kept.pk}/").status_code == 404
    assert [r["id"] for r in sam.get("/api/v1/runs/").json()["results"]] == [shared.pk]
    # Only owners of the sharing project share or revoke; others learn nothing.
    assert sam.post(f"/api/v1/projects/{lab.pk}/shares/{share_id}/revoke/").status_code == 404
    revoked = owner.post(f"/api/v1/projects/{lab.pk}/shares/{share_id}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "alice"
    assert sam.get(f"/api/v1/runs/{shared.pk}/").status_code == 404
    assert statuses(case)["Sn1"] == "at_risk"
    listed = owner.get(f"/api/v1/projects/{lab.pk}/shares/").json()
    assert [(s["to_project"], s["runs"], s["created_by"]) for s in listed] == [
        ("institute", [shared.pk], "alice")
    ]


def test_a_selector_share_covers_later_runs_of_that_task_only(
    bound_case, institute, author, uploader
):
    lab = bound_case.project
    projects.share_create(
        actor=author,
        from_project=lab,
        to_project_name="institute",
        selector={"task": "oversight_subversion"},
    )
    later = _submit(generic_run("later", 0, 3000), lab, uploader).runs[0]
    other = generic_run("other-task", 0, 3000)
    other["task"]["name"] = "self_exfiltration"
    not_shared = _submit(other, lab, uploader).runs[0]
    usable = EvaluationRun.objects.filter(
        projects.runs_usable_in_project(project_id=institute["project"].pk)
    )
    assert set(usable.values_list("pk", flat=True)) == {later.pk}
    assert not_shared.pk not in set(usable.values_list("pk", flat=True))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"to_project": "nowhere", "runs": [1]}, "no project named"),
        ({"to_project": "institute"}, "either `runs`"),
        ({"to_project": "institute", "runs": [999999]}, "has no runs 999999"),
        ({"to_project": "institute", "selector": {"color": "red"}}, "knows only"),
    ],
)
def test_bad_shares_are_refused_with_a_sentence_and_leave_no_rows(
    bound_case, institute, author, api_client_for, body, message
):
    from evidence.models import Share

    response = api_client_for(author).post(
        f"/api/v1/projects/{bound_case.project.pk}/shares/", body, format="json"
    )
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Share.objects.exists()


# --------------------------------------------------------------------------------------------
# Projects, tokens, cases


def test_a_case_name_is_unique_per_project_and_conflicts_stay_inside_it(
    case, api_client_for, author, mallory
):
    other = APIClient()
    other.force_login(mallory["user"])
    response = other.post("/api/v1/cases/", {"name": case.name}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["project"] == "evil"
    again = api_client_for(author).post("/api/v1/cases/", {"name": case.name}, format="json")
    assert again.status_code == 409
    assert "lab" in again.json()["detail"]


def test_a_project_member_gets_the_project_role_on_its_cases_unless_the_case_says_otherwise(
    case, make_user, api_client_for
):
    reader = make_user("paula")
    projects.project_member_set(project=case.project, user=reader, role="reviewer")
    client = api_client_for(reader)
    assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 200
    assert reader.has_perm("safetycase.review_case", case)
    services.membership_set(case=case, user=reader, role=Role.VIEWER)
    fresh = SafetyCase.objects.get(pk=case.pk)
    assert not reader.has_perm("safetycase.review_case", fresh)
    assert reader.has_perm("safetycase.view_case", fresh)


def test_session_uploads_name_the_project_when_the_user_is_in_several(
    uploader, client, eager_celery
):
    projects.project_create(name="second", owner=uploader)
    client.force_login(uploader)
    content = json.dumps(generic_run("session-1", 0, 10)).encode()
    response = upload(client, content)
    assert response.status_code == 400 and "several projects" in response.json()["detail"]
    unknown = upload(client, content, project="nope")
    assert unknown.status_code == 400 and "'nope'" in unknown.json()["detail"]
    assert not EvaluationRun.objects.exists() and not LogFile.objects.exists()
    chosen = upload(client, content, project="second")
    assert chosen.status_code == 202 and chosen.json()["project"] == "second"


def test_create_token_needs_project_when_the_user_is_in_several(uploader):
    projects.project_create(name="second", owner=uploader)
    with pytest.raises(CommandError, match="--project"):
        call_command("create_token", "harness", "--ingest", stdout=StringIO())
    out = StringIO()
    call_command("create_token", "harness", "--ingest", "--project", "second", stdout=out)
    assert "in project second" in out.getvalue()
    with pytest.raises(CommandError, match="not a member of a project named 'nope'"):
        call_command("create_token", "harness", "--project", "nope", stdout=StringIO())


def test_an_ingest_token_uploads_but_cannot_read_or_edit_cases(case, uploader):
    out = StringIO()
    call_command("create_token", "harness", "--ingest", stdout=out)
    client = token_client(out.getvalue().strip().splitlines()[-1])
    assert "with scopes ingest in project lab" in out.getvalue()
    assert client.get("/api/v1/cases/").status_code == 403
    assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 403
    assert client.post(f"/api/v1/cases/{case.pk}/nodes/", {}, format="json").status_code == 403
    response = upload(client, json.dumps(generic_run("token-1", 0, 10)).encode())
    assert response.status_code == 202 and response.json()["project"] == "lab"


def test_create_project_command(make_user):
    make_user("olivia")
    out = StringIO()
    call_command("create_project", "Lab two", "--owner", "olivia", stdout=out)
    project = Project.objects.get(name="Lab two")
    assert project.memberships.get().user.username == "olivia"
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_project", "Lab two", "--owner", "olivia", stdout=StringIO())
    with pytest.raises(CommandError, match="no user"):
        call_command("create_project", "Lab three", "--owner", "nobody", stdout=StringIO())


def test_projects_api_lists_only_my_projects_with_members(case, api_client_for, author, mallory):
    client = api_client_for(author)
    listed = client.get("/api/v1/projects/").json()
    assert [(p["name"], p["role"]) for p in listed] == [("lab", "owner")]
    members = client.get(f"/api/v1/projects/{case.project.pk}/members/").json()
    assert {m["username"]: m["role"] for m in members} == {"alice": "owner", "vera": "viewer"}
    assert client.get(f"/api/v1/projects/{mallory['project'].pk}/").status_code == 404


def test_bindings_ignore_superseded_and_other_projects_runs(bound_case, uploader, mallory):
    from safetycase import selectors

    lab = bound_case.project
    mine = _submit(generic_run("mine", 0, 3000), lab, uploader).runs[0]
    _submit(generic_run("theirs", 0, 3000), mallory["project"], mallory["user"])
    binding = EvidenceBinding.objects.get(case=bound_case)
    candidates = selectors.candidate_runs(tasks=selectors.bound_tasks([binding]), project_id=lab.pk)
    assert list(candidates.values_list("pk", flat=True)) == [mine.pk]


def test_a_case_in_an_unknown_project_is_refused_with_a_sentence(api_client_for, author):
    response = api_client_for(author).post(
        "/api/v1/cases/", {"name": "Somewhere", "project": "nowhere"}, format="json"
    )
    assert response.status_code == 400
    assert "'nowhere'" in response.json()["detail"]
    assert not SafetyCase.objects.filter(name="Somewhere").exists()


def test_a_token_stops_uploading_when_its_owner_leaves_the_project(uploader, lab, author):
    _, key = services.token_create(user=uploader, scopes=["ingest"])
    projects.project_member_remove(actor=author, project=lab, username="harness")
    response = upload(token_client(key), json.dumps(generic_run("left", 0, 10)).encode())
    assert response.status_code == 403
    assert "no longer a member" in response.json()["detail"]
    assert not EvaluationRun.objects.exists()
