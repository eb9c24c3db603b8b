"""No Docker engine runs on the build machines: check the compose file by parsing it.
(.ci/compose_smoke.py starts the same commands natively against PostgreSQL and Redis.)"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_defines_the_five_services_with_healthchecks():
    services = load_compose()["services"]
    assert set(services) == {"web", "worker", "beat", "db", "redis"}
    for name, service in services.items():
        assert "healthcheck" in service, name


def test_app_services_run_gunicorn_and_celery():
    services = load_compose()["services"]
    assert "gunicorn safetycase.wsgi" in " ".join(services["web"]["command"])
    assert services["worker"]["command"][:4] == ["celery", "-A", "safetycase", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "safetycase", "beat"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_configuration_comes_only_from_the_environment():
    services = load_compose()["services"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://safetycase:${POSTGRES_PASSWORD")
        assert env["DATABASE_URL"].endswith("@db:5432/safetycase")
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
        assert env["DEBUG"] == "0"
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_dockerfile_builds_the_same_package():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "pip install ." in dockerfile
    assert "collectstatic" in dockerfile
