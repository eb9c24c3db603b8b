"""`manage.py serve_local`: the development server of `make run`, logins printed last."""

from __future__ import annotations

from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as RunserverCommand,
)

from safetycase.paths import local_login


class Command(RunserverCommand):
    help = (
        "Run the development server (as runserver, static files served by WhiteNoise) and "
        "print how to log in, after the server's own start-up lines, so the logins and the "
        "address are the last thing on the screen. --login NAME (repeatable, default admin) "
        "names the accounts created by setup_admin."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--login",
            action="append",
            dest="logins",
            metavar="NAME",
            help="An account whose login to print (repeatable; default admin).",
        )

    def handle(self, *args, **options):
        self.logins = options.get("logins") or ["admin"]
        super().handle(*args, **options)

    def on_bind(self, server_port):
        super().on_bind(server_port)
        host = "127.0.0.1" if self.addr in ("0", "0.0.0.0") else self.addr
        if self._raw_ipv6:
            host = f"[{self.addr}]"
        url = f"{self.protocol}://{host}:{server_port}/"
        self.stdout.write("")
        for username in self.logins:
            self.stdout.write(self.style.SUCCESS(local_login(url, username)))
