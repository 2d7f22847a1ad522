"""The scheduling domain: who works when, what can be booked, and what is booked.

Instants are stored in UTC. Wall-clock rules (weekly hours, overrides) are times of day
that mean something only in the practitioner's IANA zone.
"""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from scheduler.bounds import (
    MAX_BUFFER_MINUTES,
    MAX_DAYS_AHEAD,
    MAX_NOTICE_MINUTES,
    MAX_SESSION_MINUTES,
)
from scheduler.lifecycle import BookingStatus, SessionStatus, WaitlistStatus


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # OSError: a directory of the zone database ("Europe") is not a zone.
        raise ValidationError(f"Unknown time zone: {value!r}") from exc


class Practitioner(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="practitioner"
    )
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    timezone = models.CharField(
        max_length=64, default=settings.DEFAULT_TIMEZONE, validators=[validate_timezone]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Grows with every change that can change slots or feeds; cached slot answers and
    # feed ETags carry it, feeds send the time as Last-Modified.
    schedule_version = models.PositiveBigIntegerField(default=0)
    schedule_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("practitioner")
        verbose_name_plural = _("practitioners")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class WeeklyRule(models.Model):
    """One range of working hours on a weekday (0 = Monday); a day may have several."""

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="weekly_rules"
    )
    weekday = models.PositiveSmallIntegerField(
        _("weekday"), choices=list(WEEKDAYS.items()), validators=[MaxValueValidator(6)]
    )
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        verbose_name = _("weekly hours")
        verbose_name_plural = _("weekly hours")
        ordering = ["practitioner", "weekday", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=F("end")), name="weekly_rule_start_before_end"
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="weekly_rule_weekday_range"),
        ]

    def __str__(self) -> str:
        return f"{self.weekday} {self.start:%H:%M}-{self.end:%H:%M}"


class DateOverride(models.Model):
    """A date whose hours differ from the weekly rules: no ranges means closed."""

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="date_overrides"
    )
    date = models.DateField()

    class Meta:
        verbose_name = _("day off or other hours")
        verbose_name_plural = _("days off and other hours")
        ordering = ["practitioner", "date"]
        constraints = [
            models.UniqueConstraint(fields=["practitioner", "date"], name="one_override_per_date"),
        ]

    def __str__(self) -> str:
        return f"{self.date}"


class DateOverrideRange(models.Model):
    override = models.ForeignKey(DateOverride, on_delete=models.CASCADE, related_name="ranges")
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        verbose_name = _("hours of the day")
        verbose_name_plural = _("hours of the day")
        ordering = ["override", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=F("end")), name="override_range_start_before_end"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class AppointmentType(models.Model):
    """What can be booked. With `series` set it is a series booked all or none."""

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="appointment_types"
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField()
    duration_minutes = models.PositiveIntegerField(
        _("Duration (minutes)"),
        validators=[MinValueValidator(5), MaxValueValidator(MAX_SESSION_MINUTES)],
    )
    buffer_before_minutes = models.PositiveIntegerField(
        _("Free time before (minutes)"),
        default=0,
        validators=[MaxValueValidator(MAX_BUFFER_MINUTES)],
    )
    buffer_after_minutes = models.PositiveIntegerField(
        _("Free time after (minutes)"),
        default=0,
        validators=[MaxValueValidator(MAX_BUFFER_MINUTES)],
    )
    # Null means "one duration": slots start every duration_minutes.
    slot_step_minutes = models.PositiveIntegerField(
        _("A start every … minutes (empty: the duration)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
    )
    min_notice_minutes = models.PositiveIntegerField(
        _("minimum notice (minutes)"), default=0, validators=[MaxValueValidator(MAX_NOTICE_MINUTES)]
    )
    max_days_ahead = models.PositiveIntegerField(
        _("bookable ahead (days)"),
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DAYS_AHEAD)],
    )
    # [{"offset_days": 0, "duration_minutes": 60}, {"offset_days": 3, ...}] or null.
    series = models.JSONField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("appointment type")
        verbose_name_plural = _("appointment types")
        ordering = ["practitioner", "name"]
        constraints = [
            models.UniqueConstraint(fields=["practitioner", "slug"], name="unique_type_slug"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from scheduler.types import series_from_json

        if self.series is not None:
            series_from_json(self.series)

    @property
    def step_minutes(self) -> int:
        return self.slot_step_minutes or self.duration_minutes

    @property
    def series_days(self) -> str:
        """Day numbers of a series as people count them (offset 0 is day 1): "1, 4, 11"."""
        return ", ".join(str(item["offset_days"] + 1) for item in self.series or [])


class Booking(models.Model):
    Status = BookingStatus  # its moves: scheduler/lifecycle.py

    class Language(models.TextChoices):
        DUTCH = "nl", "Nederlands"
        ENGLISH = "en", "English"

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.PROTECT, related_name="bookings"
    )
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="bookings"
    )
    client_name = models.CharField(max_length=200)
    client_email = models.EmailField(max_length=254)
    client_phone = models.CharField(max_length=40, blank=True)
    notes = models.TextField(blank=True, max_length=2000)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.DUTCH)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CONFIRMED)
    # sha256 of the client's manage token; the token itself is never stored.
    manage_token_hash = models.CharField(max_length=64, unique=True)
    # sha256 of the client's Idempotency-Key, and the manage token sealed with that key.
    idempotency_key_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    manage_token_sealed = models.TextField(blank=True)
    # sha256 of the canonical request, to tell a replay from a reuse of the key.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Set when the client's personal data was removed (retention period, or on request).
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["practitioner", "created_at"])]

    def __str__(self) -> str:
        return f"Booking {self.pk} ({self.status})"


class Session(models.Model):
    """One booked appointment in time. `blocked_*` include the type's buffers.

    On PostgreSQL an exclusion constraint (see migration 0002) forbids two live sessions
    of one practitioner whose blocked ranges overlap.
    """

    Status = SessionStatus  # its moves: scheduler/lifecycle.py

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="sessions")
    # Copied from the booking so that the exclusion constraint can see it.
    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.PROTECT, related_name="sessions"
    )
    position = models.PositiveSmallIntegerField(default=0)
    start = models.DateTimeField()
    end = models.DateTimeField()
    blocked_start = models.DateTimeField()
    blocked_end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CONFIRMED)
    # Grows on every change; calendar feeds and invitations carry it as SEQUENCE.
    sequence = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["start"]
        indexes = [
            models.Index(fields=["practitioner", "blocked_end"], name="session_practitioner_end"),
            models.Index(fields=["practitioner", "start"], name="session_practitioner_start"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(start__lt=F("end")), name="session_start_before_end"
            ),
            models.CheckConstraint(
                condition=Q(blocked_start__lte=F("start")) & Q(blocked_end__gte=F("end")),
                name="session_blocked_covers_session",
            ),
            models.UniqueConstraint(fields=["booking", "position"], name="unique_session_position"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}Z ({self.status})"


class BusyBlock(models.Model):
    """Time taken in an external calendar, mirrored here so slot queries never fetch it."""

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="busy_blocks"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    # Which calendar it came from ("ics:12", "google:primary"); never an event title.
    source = models.CharField(max_length=200)
    external_id = models.CharField(max_length=1024, blank=True)

    class Meta:
        verbose_name = _("busy time")
        verbose_name_plural = _("busy time")
        ordering = ["start"]
        indexes = [
            models.Index(fields=["practitioner", "end"], name="busy_practitioner_end"),
            models.Index(fields=["source"], name="busy_source"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="busy_start_before_end"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}Z-{self.end:%H:%M}Z ({self.source})"


class Question(models.Model):
    """A question sent through the booking page; kept so nothing is lost if mail fails."""

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="questions"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    message = models.TextField(max_length=5000)
    language = models.CharField(max_length=2, default="nl")
    created_at = models.DateTimeField()
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.created_at:%Y-%m-%d})"


# --- wait list (scheduler/waitlist.py) ---------------------------------------------------


class WaitlistEntry(models.Model):
    """A client waiting for a time of one appointment type whose first session falls on a
    local date in [earliest, latest]; offered freed times by e-mail (sync/waitlist.py)."""

    Status = WaitlistStatus  # its moves: scheduler/lifecycle.py

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=40, blank=True)
    language = models.CharField(
        max_length=2, choices=Booking.Language.choices, default=Booking.Language.DUTCH
    )
    earliest = models.DateField()
    latest = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    # sha256 of the client's leave-the-list token; the token itself is never stored.
    manage_token_hash = models.CharField(max_length=64, unique=True)
    booking = models.ForeignKey(
        Booking, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["appointment_type", "status", "created_at"], name="waitlist_open")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(earliest__lte=F("latest")), name="waitlist_earliest_before_latest"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.earliest}..{self.latest} ({self.status})"


class WaitlistOffer(models.Model):
    """One start offered to (or already seen by) one entry: never the same start twice.

    `claim_token_hash` is the sha256 of the claim link's token; null for the starts that
    were already free when the client joined (they saw them and chose the list), which are
    recorded only so that they are not offered as "freed"."""

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    start = models.DateTimeField()
    claim_token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "start"], name="waitlist_offer_once"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}Z to entry {self.entry_id}"
