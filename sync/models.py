import secrets

from django.db import models

from scheduler.models import Practitioner


class Heartbeat(models.Model):
    """The last time a periodic task ran: proof that beat schedules and a worker executes."""

    name = models.CharField(max_length=64, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}Z"


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class FeedToken(models.Model):
    """The secret in a practitioner's feed URL; one per feed kind, rotated together."""

    class Kind(models.TextChoices):
        BOOKINGS = "bookings"
        BUSY = "busy"

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="feeds")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Shown to the practitioner again on request, so stored as is: a revocable capability.
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practitioner", "kind"], name="one_feed_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.practitioner} {self.kind} feed"


class CalendarConnection(models.Model):
    """An external calendar whose busy time is mirrored into BusyBlock rows."""

    class Kind(models.TextChoices):
        ICS = "ics"
        GOOGLE = "google"

    class Status(models.TextChoices):
        OK = "ok"
        ERROR = "error"
        RECONNECT_NEEDED = "reconnect_needed"

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="calendar_connections"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=2000, blank=True)
    # All-day events block whole local days unless this is off.
    block_all_day = models.BooleanField(default=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OK)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # What the last import could not read exactly (skipped components, guessed zones).
    warnings = models.JSONField(default=list, blank=True)
    # Validators of the last download, for conditional GET.
    etag = models.CharField(max_length=512, blank=True)
    last_modified = models.CharField(max_length=64, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name or f"{self.kind} {self.pk}"

    @property
    def busy_source(self) -> str:
        """The BusyBlock.source of the busy time this connection mirrors."""
        return f"{self.kind}:{self.pk}"
