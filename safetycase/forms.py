"""Forms of the web UI: parse and validate what a page is asked for."""

from __future__ import annotations

from django import forms


class SampleFilterForm(forms.Form):
    """Filters of a run's sample table: one score's outcome, and/or errored samples only."""

    score = forms.ChoiceField(required=False)
    outcome = forms.ChoiceField(
        required=False,
        choices=[("", "any outcome"), ("correct", "correct"), ("incorrect", "incorrect")],
    )
    errors_only = forms.BooleanField(required=False, label="errors only")

    def __init__(self, *args, scores: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["score"].choices = [("", "any score")] + [(name, name) for name in scores]
