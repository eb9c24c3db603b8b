"""No Docker engine runs on the build machines: check the compose file by parsing it.
(.ci/compose_smoke.py starts the same commands natively against PostgreSQL and Redis.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "safetycase" / "settings.py"


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_defines_the_six_services_with_healthchecks():
    services = load_compose()["services"]
    assert set(services) == {"nginx", "web", "worker", "beat", "db", "redis"}
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


def nginx_directives() -> dict[str, list[str]]:
    """deploy/nginx.conf's simple directives (name → values), comments stripped."""
    text = re.sub(r"#[^\n]*", "", (ROOT / "deploy" / "nginx.conf").read_text())
    directives: dict[str, list[str]] = {}
    for statement in re.findall(r"([a-z_]+)\s+([^;{}]*);", text):
        directives.setdefault(statement[0], []).append(statement[1].strip())
    return directives


def nginx_size(value: str) -> int:
    units = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", value.lower()).groups()
    return int(number) * units[unit]


def test_only_nginx_is_published_and_it_proxies_to_web():
    services = load_compose()["services"]
    assert "ports" not in services["web"]
    assert services["nginx"]["ports"] == ["${WEB_PORT:-8000}:8080"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    directives = nginx_directives()
    assert directives["listen"] == ["8080"]
    assert directives["server"] == ["web:8000"]  # the upstream: the web service's gunicorn
    assert "http://app" in directives["proxy_pass"]
    assert "/nginx-healthz" in " ".join(services["nginx"]["healthcheck"]["test"])


def test_nginx_refuses_bodies_just_above_the_upload_limit():
    # The default of EVIDENCE_MAX_UPLOAD_BYTES, as settings.py and the README give it.
    default_limit = 1024**3
    assert '"EVIDENCE_MAX_UPLOAD_BYTES", default=1024**3' in SETTINGS.read_text()
    (body_limit,) = nginx_directives()["client_max_body_size"]
    margin = nginx_size(body_limit) - default_limit
    # Room for the multipart envelope around a log of the largest size, and no more than that.
    assert 1024 * 1024 <= margin <= 16 * 1024 * 1024
    assert nginx_directives()["error_page"] == ["413 @too_large"]


def test_web_trusts_the_client_address_header_that_nginx_sets():
    services = load_compose()["services"]
    header = services["web"]["environment"]["CLIENT_IP_HEADER"]
    assert f"{header} $remote_addr" in nginx_directives()["proxy_set_header"]
    for name in ("worker", "beat"):
        assert "ports" not in services[name]
