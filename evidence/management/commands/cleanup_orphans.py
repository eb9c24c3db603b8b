from django.core.management.base import BaseCommand

from evidence import services


class Command(BaseCommand):
    help = (
        "Report and remove stored log files that no upload record points at (left when the "
        "process died between storing a file and recording it). Files modified within the last "
        "--min-age seconds are left alone, as their upload may still be committing. Prints one "
        "line per file (name and size) and a total; --dry-run only reports."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Report the files without removing them."
        )
        parser.add_argument(
            "--min-age",
            type=int,
            default=3600,
            metavar="SECONDS",
            help="Only files older than this (default 3600).",
        )

    def handle(self, *args, dry_run, min_age, **options):
        orphans = services.log_files_orphaned(min_age_seconds=min_age)
        for orphan in orphans:
            self.stdout.write(f"{orphan.name}\t{orphan.size}")
        total = sum(orphan.size for orphan in orphans)
        if dry_run:
            self.stdout.write(f"{len(orphans)} orphaned file(s), {total} bytes (dry run).")
            return
        removed = services.log_files_remove(orphans=orphans)
        self.stdout.write(f"Removed {removed} orphaned file(s), {total} bytes.")
