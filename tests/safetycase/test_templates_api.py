"""Templates and instantiation through the REST API."""

from __future__ import annotations

import pytest

from safetycase.core.library import default_library
from safetycase.models import Node, SafetyCase

pytestmark = pytest.mark.django_db


def example(template_id, **changes):
    return {**default_library().templates[template_id].example, **changes}


def test_template_list(api_client_for, outsider):
    response = api_client_for(outsider).get("/api/v1/templates/")
    assert response.status_code == 200
    by_id = {t["id"]: t for t in response.json()}
    assert set(by_id) == {"ROOT", "SI", "HI", "HC", "AL"}
    assert by_id["ROOT"]["includes"] == ["SI", "HI", "HC", "AL"]
    assert by_id["HI"]["required_parameters"] == [
        "model",
        "model_version",
        "deployment",
        "unacceptable_outcomes",
        "risk_models",
    ]
    assert by_id["SI"]["url"].endswith("/api/v1/templates/SI/")
    assert api_client_for(None).get("/api/v1/templates/").status_code == 401


def test_template_detail_documents_parameters_nodes_assumptions_and_sources(api_client_for, viewer):
    data = api_client_for(viewer).get("/api/v1/templates/HI/").json()
    assert data["title"] == "Harm Inability" and data["top"] == "G0"
    risk_models = next(p for p in data["parameters"] if p["name"] == "risk_models")
    assert risk_models["type"] == "list" and risk_models["min_items"] == 1
    assert [f["name"] for f in risk_models["fields"]] == [
        "name",
        "proxy_suite",
        "difficulty",
        "threshold",
    ]
    g2 = next(n for n in data["nodes"] if n["id"] == "G2")
    assert g2["identifier"] == "HI-G2.<k>" and g2["part"] == "per_risk_model"
    sn3 = next(n for n in data["nodes"] if n["id"] == "Sn3")
    assert (
        sn3["bindings"][0]["expression"]
        == "cp_upper(k, n, bonferroni(0.95, {joint_bounds})) < {rm.threshold}"
    )
    assert data["parts"] == [
        {
            "id": "per_risk_model",
            "for_each": "risk_models",
            "item_name": "rm",
            "when": None,
            "description": "One branch per risk model.",
        }
    ]
    a07 = next(a for a in data["assumptions"] if a["id"] == "A07")
    assert a07["requires_attestation"] is True and a07["checks"] == []
    a06 = next(a for a in data["assumptions"] if a["id"] == "A06")
    assert a06["checks"][0]["expression"] == (
        "!has(claim.rate_bound) || cp_upper(k, n, claim.confidence) <= claim.rate_bound"
    )
    assert {s["key"] for s in data["sources"]} >= {"GOE24", "BAL24"}
    assert data["example"]["risk_models"][0]["proxy_suite"] == "research_sabotage"

    root = api_client_for(viewer).get("/api/v1/templates/ROOT/").json()
    assert [r["code"] for r in root["root_rules"]["rules"]] == ["R-ROOT-1", "R-ROOT-2", "R-ROOT-3"]
    assert api_client_for(viewer).get("/api/v1/templates/NOPE/").status_code == 404


def test_create_a_case_from_a_template(api_client_for, outsider):
    client = api_client_for(outsider)  # any signed-in user may create a case
    params = example("SI")
    for key in ("model", "model_version", "deployment"):
        params.pop(key)
    response = client.post(
        "/api/v1/cases/",
        {
            "name": "Example-9 SI",
            "model_name": "Example-9",
            "model_version": "r3",
            "deployment": "a coding assistant",
            "template": "SI",
            "parameters": params,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    case = SafetyCase.objects.get(pk=data["id"])
    assert case.memberships.get().user == outsider and case.memberships.get().role == "owner"
    g0 = next(n for n in data["nodes"] if n["identifier"] == "SI-G0")
    assert g0["template_ref"] == "SI:G0"
    assert g0["statement"].startswith("Example-9 (version r3) lacks capabilities")
    assert next(n for n in data["nodes"] if n["identifier"] == "SI-S2")["combination"] == (
        "at_least:2"
    )
    assert any(b["node"] == "SI-Sn2" and b["kind"] == "criterion" for b in data["bindings"])
    findings = client.get(f"/api/v1/cases/{case.pk}/findings/").json()
    assert [f for f in findings if f["severity"] == "error"] == []
    listed = client.get("/api/v1/cases/").json()["results"]
    assert [c["name"] for c in listed] == ["Example-9 SI"]


def test_create_reports_missing_parameters(api_client_for, author):
    response = api_client_for(author).post(
        "/api/v1/cases/",
        {"name": "Incomplete", "template": "HC", "parameters": {"model": "M"}},
        format="json",
    )
    assert response.status_code == 400
    data = response.json()
    assert data["missing"] == [
        "model_version",
        "deployment",
        "unacceptable_outcomes",
        "risk_threshold",
        "protocol",
    ]
    assert data["detail"].startswith("Template HC needs values for: model_version")
    assert not SafetyCase.objects.filter(name="Incomplete").exists()

    response = api_client_for(author).post(
        "/api/v1/cases/", {"name": "X", "template": "ZZ"}, format="json"
    )
    assert response.status_code == 400 and "There is no template 'ZZ'" in response.json()["detail"]


def test_create_an_empty_case_and_refuse_a_duplicate_name(api_client_for, author):
    client = api_client_for(author)
    response = client.post("/api/v1/cases/", {"name": "Empty"}, format="json")
    assert response.status_code == 201
    assert response.json()["nodes"] == []
    assert client.post("/api/v1/cases/", {"name": "Empty"}, format="json").status_code == 409


def test_instantiate_into_a_case(case, api_client_for, author):
    response = api_client_for(author).post(
        f"/api/v1/cases/{case.pk}/instantiate/",
        {"template": "AL", "parameters": {"include_training_route": False}, "under": "G3"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["case"] == case.pk and data["top"] == "AL-G0"
    assert "AL-G1" in data["created"] and "AL-S2" not in data["created"]
    assert data["bindings"] > 0
    assert Node.objects.get(case=case, identifier="AL-G4").template_ref == "AL:G4"
    findings = api_client_for(author).get(f"/api/v1/cases/{case.pk}/findings/").json()
    assert [f for f in findings if f["severity"] == "error"] == []


def test_instantiate_reports_missing_parameters(case, api_client_for, author):
    response = api_client_for(author).post(
        f"/api/v1/cases/{case.pk}/instantiate/",
        {"template": "HI", "parameters": {}, "under": "G2"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["missing"] == ["unacceptable_outcomes", "risk_models"]


def test_instantiate_is_for_authors_only(case, api_client_for, reviewer, outsider):
    body = {"template": "AL", "parameters": {}, "under": "G3"}
    url = f"/api/v1/cases/{case.pk}/instantiate/"
    response = api_client_for(reviewer).post(url, body, format="json")
    assert response.status_code == 403
    response = api_client_for(outsider).post(url, body, format="json")
    assert response.status_code == 404
    assert case.name not in response.content.decode()
    assert not Node.objects.filter(case=case, identifier="AL-G0").exists()


def test_root_links_its_factor_bounds_to_the_branches_through_the_api(api_client_for, author):
    """The deployment size is a case parameter; branch thresholds that the root's factor
    bounds cannot rest on are flagged on the top goal, from the argument alone."""
    client = api_client_for(author)

    def create(name, **parameters):
        params = example("ROOT", **parameters)
        response = client.post(
            "/api/v1/cases/",
            {
                "name": name,
                "model_name": "Example-7",
                "model_version": "2026-11",
                "deployment": "internal agent",
                "template": "ROOT",
                "parameters": params,
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        return response.json()

    # SI's default t_covert = 0.01 on four suites: Σt = 0.04 per attempt. Over 1,000 attempts
    # 1 − 0.96^1000 = 1 against p_capable = 0.01.
    data = create("Wide", n_deploy_attempts=1000)
    g0 = next(n for n in data["nodes"] if n["identifier"] == "SI-G0")
    assert g0["attributes"]["deployment_scale"] == {"attempts": 1000, "bound": 0.01}
    flags = client.get(f"/api/v1/cases/{data['id']}/flags/", {"type": "threshold_unlinked"}).json()
    capability = [f for f in flags if f["rule"] == "capability"]
    assert len(capability) == 1 and capability[0]["severity"] == "error"
    assert "1 − (1 − 0.04)^1,000 = 1" in capability[0]["message"]

    # With 1e-6 per suite over 1,000 attempts: 1 − (1 − 4e-6)^1000 = 0.0039920 ≤ 0.01.
    data = create("Narrow", n_deploy_attempts=1000, t_covert=1e-6)
    flags = client.get(f"/api/v1/cases/{data['id']}/flags/", {"type": "threshold_unlinked"}).json()
    assert [f for f in flags if f["rule"] == "capability"] == []

    # A deployment size that is not a whole number is refused with a sentence.
    response = client.post(
        "/api/v1/cases/",
        {
            "name": "Bad",
            "template": "ROOT",
            "parameters": example("ROOT", n_deploy_attempts="many"),
        },
        format="json",
    )
    assert response.status_code == 400
    assert "n_deploy_attempts must be a whole number, not 'many'" in response.json()["detail"]
