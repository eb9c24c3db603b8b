"""The scheming argument library: templates as YAML data files in this directory, their loader
and validator (`types` for the format's data types, `load` and `parse` for reading and validating
the files, `values` for parameter values and their rendering, `selfcheck` for the check of each
template's example), instantiation (`instantiate`) and Markdown documentation (`markdown`).

All of it is pure (no Django); services.py turns an Instance into database rows.
"""

from __future__ import annotations

from functools import lru_cache

from safetycase.core.library.instantiate import (
    Instance,
    InstanceBinding,
    InstanceNode,
    InstantiationError,
    instantiate,
)
from safetycase.core.library.load import load_library
from safetycase.core.library.parse import check_selector
from safetycase.core.library.types import (
    CATALOGUE_ID,
    LIBRARY_DIR,
    CatalogueAssumption,
    Library,
    Parameter,
    Template,
    TemplateError,
)

__all__ = [
    "CATALOGUE_ID",
    "LIBRARY_DIR",
    "CatalogueAssumption",
    "Instance",
    "InstanceBinding",
    "InstanceNode",
    "InstantiationError",
    "Library",
    "Parameter",
    "Template",
    "TemplateError",
    "check_selector",
    "default_library",
    "instantiate",
    "load_library",
]


@lru_cache(maxsize=1)
def default_library() -> Library:
    """The shipped library, loaded and validated once per process."""
    return load_library(LIBRARY_DIR)
