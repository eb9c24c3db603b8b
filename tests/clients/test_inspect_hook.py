"""The Inspect hook package, installed into a fresh environment, delivers a real `inspect eval`
run with no push command.

The environment is a new virtualenv that sees the test environment's packages (Inspect among
them) through a .pth file, so installing the hook downloads at most its build backend. Nothing
here skips: when the environment cannot be made or Inspect cannot run, the test fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from evidence.models import EvaluationRun
from safetycase import services

ROOT = Path(__file__).resolve().parents[2]
HOOK_PACKAGE = ROOT / "clients" / "inspect"

TASK = """\
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes


@task
def tiny():
    return Task(
        dataset=[Sample(input=f"Say {n}.", target="Default output") for n in range(3)],
        scorer=includes(),
    )
"""


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=180, **kwargs)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory) -> Path:
    """A fresh virtualenv with the hook package installed by `pip install clients/inspect`
    (Inspect itself is not downloaded again: the environment sees the shared one's)."""
    home = tmp_path_factory.mktemp("hook-env")
    venv = home / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    # The shared packages (Inspect, setuptools) without a download.
    Path(purelib.stdout.strip(), "shared-packages.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    # Inspect and its dependencies are already there; only the build backend (setuptools) may
    # come from the package index, into pip's isolated build environment.
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            str(HOOK_PACKAGE),
        ],
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    freeze = run(
        [sys.executable, "-m", "pip", "list", "--format=json", "--path", purelib.stdout.strip()]
    )
    installed_here = {entry["name"] for entry in json.loads(freeze.stdout)}
    assert "inspect_ai" not in installed_here and "inspect-ai" not in installed_here
    return venv


def inspect_eval(venv: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "tiny.py").write_text(TASK)
    return subprocess.run(
        [
            # `inspect eval`: the console script lives with Inspect in the shared environment.
            str(venv / "bin" / "python"),
            "-m",
            "inspect_ai",
            "eval",
            "tiny.py",
            "--model",
            "mockllm/model",
            "--log-dir",
            str(tmp_path / "logs"),
            "--display",
            "plain",
            "--log-level",
            "info",
        ],
        cwd=tmp_path,
        env={
            "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.django_db(transaction=True)
def test_inspect_eval_delivers_its_log_through_the_hook(
    hook_env, live_server, uploader, eager_celery, tmp_path
):
    _, token = services.token_create(user=uploader, scopes=["ingest"])
    result = inspect_eval(
        hook_env,
        tmp_path,
        SAFETYCASE_URL=live_server.url,
        SAFETYCASE_TOKEN=token,
        SAFETYCASE_METADATA=json.dumps({"team": "evals", "ticket": 7}),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (log,) = (tmp_path / "logs").glob("*.eval")
    run_ = EvaluationRun.objects.get()
    assert run_.status == "ingested", run_.error
    assert run_.log_file.name == log.name
    assert run_.task == "tiny" and run_.model == "mockllm/model"
    assert run_.metadata["team"] == "evals" and run_.metadata["ticket"] == 7
    assert run_.sample_count == 3
    assert "uploaded as run" in result.stdout + result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_failed_upload_never_fails_the_eval_and_leaves_the_log_for_the_push_client(
    hook_env, tmp_path
):
    result = inspect_eval(
        hook_env,
        tmp_path,
        SAFETYCASE_URL="http://127.0.0.1:9",
        SAFETYCASE_TOKEN="anything",
        SAFETYCASE_RETRIES="0",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "was not uploaded" in output and "python -m evidence.push" in output
    assert list((tmp_path / "logs").glob("*.eval"))  # still there for the push client
    assert EvaluationRun.objects.count() == 0
