"""A criterion written to hold the workers: refused when saved, and — when its cost only shows
over the evidence — answered with `criterion_error` instead of being run."""

from __future__ import annotations

import json
import time

import pytest

from safetycase.models import Assessment

from .conftest import generic_run, post_log

pytestmark = pytest.mark.django_db

TEN = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"


def nested(macro: str, depth: int) -> str:
    body = "true"
    for level in range(depth):
        body = f"{TEN}.{macro}(x{level}, x{level} > 0 && {body})"
    return body


@pytest.mark.parametrize(
    ("expression", "phrase"),
    [
        (nested("exists", 8), "nests comprehensions"),  # 105 s per assessment when accepted
        (nested("map", 6), "nests comprehensions"),
        (nested("exists", 3), "nests comprehensions"),
        ("(" * 5000 + "k" + ")" * 5000 + " > 0", "characters long"),
        ("(" * 100 + "k" + ")" * 100 + " > 0", "nests parentheses"),
        (
            f"{list(range(150))}.filter(a, {list(range(150))}.filter(b, a == b).size() > 0)"
            ".size() > 0",
            "steps",
        ),
    ],
)
def test_a_costly_criterion_is_refused_when_saved_in_under_a_second(
    bound_case, api_client_for, author, expression, phrase
):
    client = api_client_for(author)
    client.get(f"/api/v1/cases/{bound_case.pk}/bindings/")  # the first request's set-up
    started = time.monotonic()
    response = client.post(
        f"/api/v1/cases/{bound_case.pk}/bindings/",
        {"node": "Sn1", "expression": expression},
        format="json",
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 400, response.content
    assert phrase in response.json()["detail"]
    assert elapsed < 1.0


def test_two_nested_comprehensions_over_short_lists_are_accepted(
    bound_case, api_client_for, author
):
    response = api_client_for(author).post(
        f"/api/v1/cases/{bound_case.pk}/bindings/",
        {"node": "Sn1", "expression": nested("exists", 2)},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_a_criterion_too_costly_over_the_run_s_metadata_ends_in_criterion_error(
    bound_case,
    api_client_for,
    author,
    uploader,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    # 5,000 elements: two nested `exists` would take 25,000,000 steps (about 10 s).
    expression = "meta.xs.exists(a, meta.xs.exists(b, a > b + 5000))"
    response = api_client_for(author).post(
        f"/api/v1/cases/{bound_case.pk}/bindings/",
        {
            "node": "Sn1",
            "expression": expression,
            "selector": {"task": "oversight_subversion", "scorer": "covert_action"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    log = json.dumps(generic_run("hostile-meta", 0, 400)).encode()
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        upload = post_log(api_client_for(uploader), log, metadata={"xs": list(range(5000))})
    assert upload.status_code == 202, upload.content
    elapsed = time.monotonic() - started
    latest = Assessment.objects.filter(case=bound_case).latest()
    errors = [f for f in latest.flags if f["type"] == "criterion_error"]
    assert any("budget" in f["message"] for f in errors), latest.flags
    assert elapsed < 5.0
