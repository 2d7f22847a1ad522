from django.db import models


class Heartbeat(models.Model):
    """The last time a periodic task ran: proof that beat schedules and a worker executes."""

    name = models.CharField(max_length=64, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}Z"
