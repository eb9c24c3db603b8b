"""Dependency direction and purity of the domain core, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_evidence_never_imports_safetycase():
    for path in (ROOT / "evidence").rglob("*.py"):
        bad = {m for m in imported_modules(path) if m.split(".")[0] == "safetycase"}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_pure_modules_do_not_import_django():
    pure = [
        *(ROOT / "safetycase" / "core" / "gsn").glob("*.py"),
        ROOT / "safetycase" / "core" / "diagrams.py",
    ]
    for path in pure:
        if not path.exists():
            continue
        bad = {m for m in imported_modules(path) if m.split(".")[0] in {"django", "rest_framework"}}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
