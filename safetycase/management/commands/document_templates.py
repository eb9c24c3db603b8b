from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from safetycase.core.library import TemplateError, default_library
from safetycase.core.library.markdown import pages

DEFAULT_DIR = Path(settings.BASE_DIR) / "docs" / "templates"


class Command(BaseCommand):
    help = (
        "Write one Markdown page per template of the scheming argument library, and one for the "
        "assumption catalogue, to docs/templates/ (or --output). With --check, write nothing and "
        "fail if a page is missing or differs from what would be generated."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(DEFAULT_DIR), help="Directory of the pages.")
        parser.add_argument(
            "--check", action="store_true", help="Only check that the pages are up to date."
        )

    def handle(self, *args, output, check, **options):
        try:
            generated = pages(default_library())
        except TemplateError as exc:
            raise CommandError(f"The template library is invalid:\n{exc}") from exc
        directory = Path(output)
        stale = []
        for name, text in generated.items():
            path = directory / name
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            stale.append(name)
            if not check:
                directory.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                self.stdout.write(f"Wrote {path}")
        if check and stale:
            raise CommandError(
                f"Out of date in {directory}: {', '.join(stale)}; run `manage.py "
                "document_templates`."
            )
        if not stale:
            self.stdout.write(f"{len(generated)} pages in {directory} are up to date.")
