"""The migration into projects, on data made at the schema before it: cases linked by a common
member become one project, runs follow their uploader's cases, tokens their user's project,
and every existing run stays usable by every other project through a revocable share."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("safetycase", "0009_pdf_export_heartbeat"),
    ("evidence", "0003_run_heartbeat_and_big_counts"),
]
AFTER = [("safetycase", "0010_cases_and_tokens_in_projects"), ("evidence", "0004_projects")]


@pytest.mark.django_db(transaction=True)
def test_existing_data_moves_into_one_project_per_set_of_cases():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("auth", "User")
    SafetyCase = old.get_model("safetycase", "SafetyCase")
    Membership = old.get_model("safetycase", "Membership")
    ApiToken = old.get_model("safetycase", "ApiToken")
    LogFile = old.get_model("evidence", "LogFile")
    EvaluationRun = old.get_model("evidence", "EvaluationRun")
    ann, ben, cat, dan = (User.objects.create(username=n) for n in ("ann", "ben", "cat", "dan"))
    alpha = SafetyCase.objects.create(name="Alpha")
    beta = SafetyCase.objects.create(name="Beta")
    gamma = SafetyCase.objects.create(name="Gamma")
    Membership.objects.create(case=alpha, user=ann, role="owner")
    Membership.objects.create(case=alpha, user=ben, role="reviewer")
    Membership.objects.create(case=beta, user=ben, role="owner")  # ben links Alpha and Beta
    Membership.objects.create(case=gamma, user=cat, role="owner")
    runs = {}
    for who, sha in ((ann, "a"), (cat, "c"), (dan, "d")):
        log = LogFile.objects.create(
            file=f"logs/{sha}.json", name="x.json", size=1, sha256=sha * 64, uploaded_by=who
        )
        runs[who.username] = EvaluationRun.objects.create(log_file=log, eval_id=f"run-{sha}")
    for user in (ann, ben, dan):
        ApiToken.objects.create(user=user, key_sha256=user.username * 10, prefix="sct_x")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Project = new.get_model("evidence", "Project")
    assert sorted(Project.objects.values_list("name", flat=True)) == ["Alpha", "Gamma"]
    cases = dict(
        new.get_model("safetycase", "SafetyCase").objects.values_list("name", "project__name")
    )
    assert cases == {"Alpha": "Alpha", "Beta": "Alpha", "Gamma": "Gamma"}
    owners = set(
        new.get_model("evidence", "ProjectMembership").objects.values_list(
            "project__name", "user__username", "role"
        )
    )
    assert owners == {
        ("Alpha", "ann", "owner"),
        ("Alpha", "ben", "owner"),
        ("Gamma", "cat", "owner"),
    }
    run_projects = dict(
        new.get_model("evidence", "EvaluationRun").objects.values_list("eval_id", "project__name")
    )
    # dan uploaded but is in no case: his run goes to the first project.
    assert run_projects == {"run-a": "Alpha", "run-c": "Gamma", "run-d": "Alpha"}
    tokens = dict(
        new.get_model("safetycase", "ApiToken").objects.values_list(
            "user__username", "project__name"
        )
    )
    assert tokens == {"ann": "Alpha", "ben": "Alpha", "dan": None}
    Share = new.get_model("evidence", "Share")
    shares = {
        (s.from_project.name, s.to_project.name): sorted(s.runs.values_list("eval_id", flat=True))
        for s in Share.objects.all()
    }
    assert shares == {("Alpha", "Gamma"): ["run-a", "run-d"], ("Gamma", "Alpha"): ["run-c"]}

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
