from django.apps import AppConfig


class SafetycaseConfig(AppConfig):
    name = "safetycase"
    verbose_name = "Safety cases"
