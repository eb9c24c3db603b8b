from django.apps import AppConfig


class SafetycaseConfig(AppConfig):
    name = "safetycase"
    verbose_name = "Safety cases"

    def ready(self) -> None:
        from safetycase import receivers

        receivers.connect()
