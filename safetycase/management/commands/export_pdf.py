from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from safetycase import selectors
from safetycase.adapters.graphviz import DiagramError
from safetycase.adapters.typst import PdfError
from safetycase.errors import ApplicationError
from safetycase.selectors import case_by_id_or_name
from safetycase.services import case_export_pdf, version_export_pdf


class Command(BaseCommand):
    help = (
        "Write case CASE (its id, or else its exact name) as a PDF to OUT (overwritten if it "
        "exists): cover with the content hash, summary, diagrams, the argument as text, "
        "evidence, assumptions and flags, from the latest assessment (a case never assessed is "
        "assessed first). --version N writes signed version N instead, from its frozen snapshot. "
        "--pdfa writes PDF/A-2b for archiving. Prints the path, the number of pages and the "
        "content hash."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # `--version` here names a signed version of the case, replacing Django's own
        # `--version` (the Django version), which this command does not need.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("case", metavar="CASE", help="Case id or exact case name.")
        parser.add_argument("out", metavar="OUT.pdf", help="File to write.")
        parser.add_argument("--pdfa", action="store_true", help="Write PDF/A-2b.")
        parser.add_argument(
            "--version",
            dest="version_number",
            type=int,
            metavar="N",
            help="Export signed version N (default: the working copy).",
        )

    def handle(self, *args, case, out, pdfa, version_number, **options):
        try:
            found = case_by_id_or_name(reference=case)
            if version_number is None:
                result = case_export_pdf(case=found, pdfa=pdfa)
            else:
                version = selectors.version_for_case(case=found, number=version_number)
                result = version_export_pdf(version=version, pdfa=pdfa)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        except (PdfError, DiagramError) as exc:
            raise CommandError(f"The PDF of case {case!r} could not be produced: {exc}") from exc
        path = Path(out)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(result.content)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc}") from exc
        self.stdout.write(
            f"Wrote {path}: {result.pages} pages, {result.diagrams} diagrams, overall "
            f"{result.overall_status or 'not assessed'}, content hash {result.content_hash}"
            + (" (PDF/A-2b)" if pdfa else "")
        )
