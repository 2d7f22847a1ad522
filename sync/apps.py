from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Calendar sync and background work"

    def ready(self):
        """Wire the parts that must not import each other: the tasks serve sync.jobs, the
        e-mail channel and each calendar connector register with the outbox and the
        connector registry, and the booking signals are connected. A new kind of calendar
        is one more line here; a new channel too."""
        from sync import connectors, jobs, receivers, tasks  # noqa: F401 - receivers connect
        from sync.caldav.connector import CalDAVConnector
        from sync.calendars import IcsConnector
        from sync.channels import email
        from sync.google.connector import GoogleConnector

        jobs.register(send=tasks.job_send, after_commit=tasks.job_after_commit)
        email.register()
        for connector in (IcsConnector(), GoogleConnector(), CalDAVConnector()):
            connectors.register(connector)
