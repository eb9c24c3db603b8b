from django.apps import AppConfig


class SafetycaseConfig(AppConfig):
    name = "safetycase"
    verbose_name = "Safety cases"

    def ready(self) -> None:
        # Importing the Celery app makes it the current app, so `shared_task`s sent from web
        # processes and management commands use its broker and settings. Workers and beat load
        # it themselves (`celery -A safetycase` finds `safetycase.celery`).
        from safetycase import celery, receivers

        celery.app.set_current()
        receivers.connect()
