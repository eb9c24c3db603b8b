from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Watches and notifications"

    def ready(self) -> None:
        # The tasks module registers the tasks that services queue by name.
        from notifications import receivers, tasks  # noqa: F401

        receivers.connect()
