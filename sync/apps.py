from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Calendar sync and background work"

    def ready(self):
        from sync import receivers  # noqa: F401 - connects the booking signals
