import secrets

from django.conf import settings
from django.db import models

from scheduler.models import Practitioner, Question, Session


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


class OAuthState(models.Model):
    """A started Google authorisation: its state and PKCE verifier, until the callback."""

    state = models.CharField(max_length=128, unique=True)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE)
    # Who started it: only they can finish it at the callback.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True)
    code_verifier = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"OAuth state for {self.practitioner}"


class CalendarConnection(models.Model):
    """An external calendar whose busy time is mirrored into BusyBlock rows."""

    class Kind(models.TextChoices):
        ICS = "ics"
        GOOGLE = "google"
        CALDAV = "caldav"

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
    # What the last import depended on besides the body (day, zone, switches): when it
    # changes the feed is downloaded and read again even if the server says "not modified".
    import_context = models.CharField(max_length=200, blank=True)
    # Google: tokens encrypted with TOKEN_ENCRYPTION_KEYS; which calendar receives bookings
    # and which calendars block time; the account's calendars as last listed.
    google_refresh_token = models.TextField(blank=True)
    google_access_token = models.TextField(blank=True)
    google_token_expiry = models.DateTimeField(null=True, blank=True)
    push_calendar_id = models.CharField(max_length=1024, blank=True, default="primary")
    busy_calendar_ids = models.JSONField(default=list, blank=True)
    available_calendars = models.JSONField(default=list, blank=True)
    # The Google account (its primary calendar's id) the tokens belong to.
    google_account = models.CharField(max_length=320, blank=True)
    # CalDAV: the account (its password encrypted like the Google tokens) and the calendar
    # home found by discovery (empty until then).
    caldav_username = models.CharField(max_length=320, blank=True)
    caldav_password = models.TextField(blank=True)
    caldav_home_url = models.URLField(max_length=2000, blank=True)
    # When the home was last listed (calendar names; ctags of servers without RFC 6578).
    caldav_listed_at = models.DateTimeField(null=True, blank=True)
    # Set when the practitioner was told the connection needs them; cleared on reconnect.
    alerted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name or f"{self.kind} {self.pk}"

    @property
    def busy_source(self) -> str:
        """The BusyBlock.source of the busy time this connection mirrors."""
        return f"{self.kind}:{self.pk}"


class GoogleCalendarSync(models.Model):
    """Pull state of one Google calendar that blocks time: sync token and watch channel."""

    connection = models.ForeignKey(
        CalendarConnection, on_delete=models.CASCADE, related_name="google_calendars"
    )
    calendar_id = models.CharField(max_length=1024)
    sync_token = models.TextField(blank=True)
    channel_id = models.CharField(max_length=64, blank=True, db_index=True)
    channel_token = models.CharField(max_length=128, blank=True)
    channel_resource_id = models.CharField(max_length=256, blank=True)
    channel_expires_at = models.DateTimeField(null=True, blank=True)
    last_pulled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "calendar_id"], name="one_sync_per_calendar"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.calendar_id}"

    @property
    def busy_source(self) -> str:
        return f"google:{self.connection_id}:{self.calendar_id}"[:200]


class GoogleEvent(models.Model):
    """Our event for a session in the practitioner's Google calendar, with its last etag."""

    connection = models.ForeignKey(
        CalendarConnection, on_delete=models.CASCADE, related_name="google_events"
    )
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="google_events")
    calendar_id = models.CharField(max_length=1024)
    event_id = models.CharField(max_length=1024)
    etag = models.CharField(max_length=256, blank=True)
    deleted = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "session"], name="one_event_per_session"),
        ]

    def __str__(self) -> str:
        return self.event_id


class CalDAVCalendar(models.Model):
    """Pull state of one CalDAV calendar that blocks time: its sync token (RFC 6578) or,
    on servers without sync-collection, its ctag; the day and zone it was expanded for."""

    connection = models.ForeignKey(
        CalendarConnection, on_delete=models.CASCADE, related_name="caldav_calendars"
    )
    url = models.URLField(max_length=2000)
    sync_token = models.TextField(blank=True)
    ctag = models.CharField(max_length=512, blank=True)
    # None: not tried yet; False: the server refused sync-collection, list etags instead.
    sync_collection = models.BooleanField(null=True)
    import_context = models.CharField(max_length=200, blank=True)
    last_pulled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "url"], name="one_caldav_sync_per_url"),
        ]

    def __str__(self) -> str:
        return f"{self.connection} {self.url}"

    @property
    def busy_source(self) -> str:
        from urllib.parse import urlsplit

        return f"caldav:{self.connection_id}:{urlsplit(self.url).path}"[:200]


class CalDAVObject(models.Model):
    """One calendar object (a resource: one UID, its overrides) seen in a busy calendar."""

    calendar = models.ForeignKey(CalDAVCalendar, on_delete=models.CASCADE, related_name="resources")
    href = models.CharField(max_length=1024)
    etag = models.CharField(max_length=512, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["calendar", "href"], name="one_caldav_object_per_href"),
        ]

    def __str__(self) -> str:
        return self.href


class CalDAVEvent(models.Model):
    """Our event for a session in the practitioner's CalDAV calendar, with its last etag."""

    connection = models.ForeignKey(
        CalendarConnection, on_delete=models.CASCADE, related_name="caldav_events"
    )
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="caldav_events")
    calendar_url = models.URLField(max_length=2000)
    href = models.URLField(max_length=2000)
    etag = models.CharField(max_length=512, blank=True)
    deleted = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "session"], name="one_caldav_event_per_session"
            ),
        ]

    def __str__(self) -> str:
        return self.href


class OutboxItem(models.Model):
    """One side effect (an e-mail, a calendar push), written in the same transaction as the
    change that causes it and delivered after commit.

    A task delivers it as soon as the transaction commits and beat sweeps whatever is left,
    so a broker outage only delays and a crash anywhere neither loses nor doubles anything:
    calendar events have ids derived from the session, and an e-mail keeps one Message-ID
    over every attempt (see sync/outbox.py).
    """

    class Kind(models.TextChoices):
        MAIL = "mail"
        GOOGLE = "google"
        GOOGLE_REVOKE = "google_revoke"
        CALDAV = "caldav"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GOOGLE)
    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="outbox", null=True
    )
    # Calendar pushes: which connection, which session.
    connection = models.ForeignKey(
        CalendarConnection, on_delete=models.CASCADE, related_name="outbox", null=True, blank=True
    )
    session = models.ForeignKey(
        Session, on_delete=models.CASCADE, related_name="outbox", null=True, blank=True
    )
    # E-mail: the whole message, encrypted at rest (it holds personal data and manage links);
    # a revocation: the encrypted token. Blanked once delivered.
    message = models.TextField(blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    # A question's e-mail marks the question as sent when it has gone out; a question
    # erased (or past retention) takes its e-mail with it, sent or not.
    question = models.ForeignKey(
        Question, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Set just before handing an e-mail to the mail server: an attempt that started but never
    # finished shows here (the retry sends the same Message-ID).
    sending_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["done_at", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"outbox {self.pk} {self.kind}"
