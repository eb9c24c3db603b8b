"""Inspect hook uploading each finished evaluation log to a safety-case tracker."""
