"""Entry point for django-rules, which loads each app's `rules` module at start-up
(`rules.apps.AutodiscoverRulesConfig`). The permission predicates are in
safetycase.permissions ("rules" in this product otherwise means the GSN rules)."""

from safetycase import permissions  # noqa: F401
