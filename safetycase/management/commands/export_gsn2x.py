from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from safetycase.core.gsn.gsn2x import Gsn2xError, dump_files
from safetycase.errors import ApplicationError
from safetycase.selectors import case_argument, case_by_id_or_name


class Command(BaseCommand):
    help = (
        "Write case CASE (its id, or else its exact name) as gsn2x YAML into OUTDIR (created if "
        "missing; files of the same name are overwritten): one <module>.gsn.yaml per module, "
        "or argument.gsn.yaml for nodes outside any module, each module block listing in "
        "`uses` the modules it refers to. Prints the path of every file written; import them "
        "again with import_gsn2x, or render them with gsn2x."
    )

    def add_arguments(self, parser):
        parser.add_argument("case", metavar="CASE", help="Case id or exact case name.")
        parser.add_argument("outdir", metavar="OUTDIR", help="Directory to write the files to.")

    def handle(self, *args, case, outdir, **options):
        try:
            found = case_by_id_or_name(reference=case)
            files = dump_files(case_argument(case=found))
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        except Gsn2xError as exc:
            raise CommandError(f"Case {found.name!r} cannot be written as gsn2x: {exc}") from exc
        directory = Path(outdir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for file_name, text in files.items():
                path = directory / file_name
                path.write_text(text, encoding="utf-8")
                self.stdout.write(str(path))
        except OSError as exc:
            raise CommandError(f"Cannot write to {directory}: {exc}") from exc
