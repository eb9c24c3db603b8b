"""Dependency direction and purity of the domain core, checked on the source.

The checks read the import statements (an import graph over the AST) of the project's packages:

* the pure core (`safetycase/core/`) and evidence's statistics and parsers load no Django,
  Celery, kombu or DRF module when imported, also transitively (checked in a fresh interpreter);
* `evidence` never imports `safetycase`;
* no module imports a private name (`_x`) of another module;
* services never import the API or views;
* no import circles between the modules of `safetycase` and `evidence`.

Each checker is also run on a small package with a deliberate violation, so a checker that
stopped seeing anything would fail here.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("safetycase", "evidence", "notifications")
FRAMEWORKS = ("django", "celery", "kombu", "rest_framework")

# Known violations still to remove. Each entry is one existing import; the sets are to be
# emptied, never extended.
PRIVATE_IMPORTS_ALLOWED: set[tuple[str, str]] = set()
SERVICE_IMPORTS_ALLOWED: set[tuple[str, str]] = set()
CYCLE_EDGES_ALLOWED: set[tuple[str, str]] = set()


# --------------------------------------------------------------------------------------------
# The import graph


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module
    module: str  # the imported module (a submodule when `from package import submodule`)
    name: str  # the imported name ("" for the module itself)
    line: int


def modules_of(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for the packages under `root` (migrations aside)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports_in(module: str, path: Path, known: Iterable[str]) -> list[Import]:
    """Every import statement of a module, wherever it stands (also inside functions), and
    every use of a name of an imported module (`services._memo` counts as importing `_memo`)."""
    known = set(known)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[Import] = []
    aliases: dict[str, str] = {}  # local name -> the module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module, alias.name, "", node.lineno))
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")
                parent = parent[: len(parent) - node.level + (1 if is_package else 0)]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in known:
                    found.append(Import(module, submodule, "", node.lineno))
                    aliases[alias.asname or alias.name] = submodule
                else:
                    found.append(Import(module, base, alias.name, node.lineno))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found.append(Import(module, aliases[node.value.id], node.attr, node.lineno))
    return found


def project_imports(root: Path, packages: Iterable[str]) -> list[Import]:
    modules = modules_of(root, packages)
    return [i for m, path in modules.items() for i in imports_in(m, path, modules)]


def _inside(module: str, packages: Iterable[str]) -> bool:
    return module.split(".")[0] in set(packages)


# --------------------------------------------------------------------------------------------
# The checks


def framework_modules_loaded(root: Path, modules: Iterable[str]) -> dict[str, list[str]]:
    """Module -> the framework modules that importing it loaded, in one fresh interpreter that
    imports the modules in turn (only modules that loaded any; a framework module is named at
    the first module that brought it in)."""
    script = textwrap.dedent(
        """
        import importlib, json, sys
        frameworks = set(sys.argv[1].split(","))
        def loaded():
            return {m for m in sys.modules if m.split(".")[0] in frameworks}
        found, before = {}, loaded()
        for module in sys.argv[2:]:
            importlib.import_module(module)
            now = loaded()
            if now - before:
                found[module] = sorted(now - before)
            before = now
        print(json.dumps(found))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(root)
    result = subprocess.run(
        [sys.executable, "-c", script, ",".join(FRAMEWORKS), *modules],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"importing the modules failed:\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def forbidden_imports(imports: Iterable[Import], importer: str, forbidden: str) -> list[str]:
    """Imports of package `forbidden` by modules of package `importer`."""
    return [
        f"{i.importer} imports {i.module} (line {i.line})"
        for i in imports
        if i.importer.split(".")[0] == importer and i.module.split(".")[0] == forbidden
    ]


def private_imports(imports: Iterable[Import], packages: Iterable[str]) -> set[tuple[str, str]]:
    """(importer, imported private name) for every import of another module's private name:
    `from m import _x`, or a private module `_m` imported from outside its own package."""
    packages = tuple(packages)
    found: set[tuple[str, str]] = set()
    for i in imports:
        if not _inside(i.module, packages):
            continue
        if i.name.startswith("_") and not i.name.startswith("__"):
            found.add((i.importer, f"{i.module}.{i.name}"))
            continue
        parts = i.module.split(".")
        for index, part in enumerate(parts):
            if part.startswith("_") and not part.startswith("__"):
                owner = ".".join(parts[:index])
                if not (i.importer == owner or i.importer.startswith(owner + ".")):
                    found.add((i.importer, i.module))
                break
    return found


def is_service(module: str) -> bool:
    return "services" in module.split(".")


def is_api_or_view(module: str) -> bool:
    return any(p in ("api", "views") or p.endswith("_views") for p in module.split("."))


def service_imports(imports: Iterable[Import], packages: Iterable[str]) -> set[tuple[str, str]]:
    """(service module, API or view module) for every import of the API or views by a service."""
    packages = tuple(packages)
    return {
        (i.importer, i.module)
        for i in imports
        if is_service(i.importer) and _inside(i.module, packages) and is_api_or_view(i.module)
    }


def import_cycles(
    imports: Iterable[Import], packages: Iterable[str], ignored: Iterable[tuple[str, str]] = ()
) -> list[list[str]]:
    """The groups of modules that import one another in a circle (strongly connected
    components of more than one module, or a module importing itself), without the `ignored`
    edges."""
    packages = tuple(packages)
    ignored = set(ignored)
    graph: dict[str, set[str]] = {}
    for i in imports:
        graph.setdefault(i.importer, set())
        if _inside(i.module, packages) and (i.importer, i.module) not in ignored:
            graph[i.importer].add(i.module)
            graph.setdefault(i.module, set())
    # Tarjan's algorithm, iterative.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    cycles.append(sorted(component))
    return cycles


# --------------------------------------------------------------------------------------------
# The project


def pure_modules() -> list[str]:
    modules = modules_of(ROOT, PACKAGES)
    return sorted(
        m
        for m in modules
        if m.startswith("safetycase.core")
        or m.startswith("evidence.parsers")
        or m == "evidence.statistics"
    )


def test_the_pure_core_loads_no_framework():
    modules = pure_modules()
    assert "safetycase.core.assessment.engine" in modules and "evidence.statistics" in modules
    assert framework_modules_loaded(ROOT, modules) == {}


def test_evidence_never_imports_safetycase():
    assert forbidden_imports(project_imports(ROOT, PACKAGES), "evidence", "safetycase") == []


def test_no_module_imports_a_private_name_of_another():
    found = private_imports(project_imports(ROOT, PACKAGES), PACKAGES)
    assert found - PRIVATE_IMPORTS_ALLOWED == set()


def test_services_never_import_the_api_or_views():
    found = service_imports(project_imports(ROOT, PACKAGES), PACKAGES)
    assert found - SERVICE_IMPORTS_ALLOWED == set()


def test_no_import_cycles():
    assert import_cycles(project_imports(ROOT, PACKAGES), PACKAGES, CYCLE_EDGES_ALLOWED) == []


# --------------------------------------------------------------------------------------------
# Each checker sees a deliberate violation


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_purity_check_sees_a_framework_loaded_through_another_module(tmp_path):
    write_package(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/core/__init__.py": "",
            "app/core/pure.py": "import json\n",
            "app/core/innocent.py": "from app import helpers\n",
            "app/helpers.py": "import django.conf\n",
        },
    )
    found = framework_modules_loaded(tmp_path, ["app.core.pure", "app.core.innocent"])
    assert list(found) == ["app.core.innocent"]
    assert "django" in found["app.core.innocent"]


def test_the_package_check_sees_a_forbidden_import(tmp_path):
    write_package(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/parse.py": "def parse():\n    from high.models import Thing\n",
            "high/__init__.py": "",
            "high/models.py": "Thing = object\n",
        },
    )
    found = forbidden_imports(project_imports(tmp_path, ["low", "high"]), "low", "high")
    assert found == ["low.parse imports high.models (line 2)"]


def test_the_private_name_check_sees_a_private_import(tmp_path):
    write_package(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/views.py": "def _case(): ...\ndef page(): ...\n",
            "app/other_views.py": "from app.views import _case, page\n",
            "app/api.py": "from app import views\n\nviews.page()\nviews._case()\n",
            "app/parsers/__init__.py": "",
            "app/parsers/_common.py": "",
            "app/parsers/json.py": "from app.parsers import _common\n",  # its own package: fine
            "app/outsider.py": "from .parsers._common import x\n",
        },
    )
    found = private_imports(project_imports(tmp_path, ["app"]), ["app"])
    assert found == {
        ("app.other_views", "app.views._case"),
        ("app.api", "app.views._case"),
        ("app.outsider", "app.parsers._common"),
    }


def test_the_service_check_sees_a_service_importing_the_api(tmp_path):
    write_package(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/api/__init__.py": "",
            "app/api/authentication.py": "",
            "app/services/__init__.py": "",
            "app/services/tokens.py": "from app.api import authentication\n",
            "app/services/cases.py": "import app.case_views\n",
            "app/case_views.py": "",
            "app/selectors.py": "from app.api import authentication\n",  # not a service
        },
    )
    found = service_imports(project_imports(tmp_path, ["app"]), ["app"])
    assert found == {
        ("app.services.tokens", "app.api.authentication"),
        ("app.services.cases", "app.case_views"),
    }


def test_the_cycle_check_sees_a_circle_also_through_a_function_level_import(tmp_path):
    write_package(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/services.py": "from app import tasks\n",
            "app/tasks.py": "def run():\n    from app.export import services\n",
            "app/export/__init__.py": "",
            "app/export/services.py": "import app.services\n",
            "app/models.py": "",
            "app/selectors.py": "from app import models\n",
        },
    )
    imports = project_imports(tmp_path, ["app"])
    assert import_cycles(imports, ["app"]) == [["app.export.services", "app.services", "app.tasks"]]
    allowed = {("app.tasks", "app.export.services")}
    assert import_cycles(imports, ["app"], allowed) == []
