from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = "Evaluation evidence"

    def ready(self) -> None:
        # Registers the tasks with Celery in every process: services send them by name.
        from evidence import tasks  # noqa: F401
