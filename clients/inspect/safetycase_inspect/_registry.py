"""The module Inspect imports through the `inspect_ai` entry point: importing the hooks
module registers the hook (its `@hooks` decorator runs)."""

from safetycase_inspect.hooks import SafetyCaseUpload  # noqa: F401
