from pathlib import Path

from django.conf import settings


def var_dir() -> Path:
    """Where the embedded set-up keeps its SQLite file, uploads and generated secrets."""
    return Path(settings.VAR_DIR)


def password_file(username: str) -> Path:
    """Where `manage.py setup_admin` keeps the generated password of a local account."""
    return var_dir() / f"{username}-password"


def local_login(url: str, username: str) -> str:
    """The line that tells a new user how to log in to a local set-up as `username`."""
    path = password_file(username)
    if path.exists():
        password = path.read_text().strip()
    else:
        password = f"(unchanged; set it with `manage.py changepassword {username}`)"
    return f"Log in at {url} as {username} / {password}"
