"""GSN well-formedness rules R1–R16 (placeholder until implemented)."""

from __future__ import annotations

from safetycase.gsn.model import Argument, Finding


def check_argument(argument: Argument, *, strict: bool = False) -> list[Finding]:
    return []
