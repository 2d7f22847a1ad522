from datetime import time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from scheduler.booking import ClientDetails, booking_create
from scheduler.models import Practitioner
from scheduler.practice import (
    appointment_type_create,
    date_override_save,
    practitioner_create,
    weekly_rules_replace,
)
from scheduler.selectors import slot_list
from scheduler.tokens import token_issue

USERNAME = "praktijk"
PASSWORD = "demo-praktijk-2026"  # noqa: S105 - a published demo login, never for production
SLUG = "praktijk-de-linde"

DEMO_CLIENTS = [
    ClientDetails(name="Sanne Jansen", email="sanne@example.nl", phone="+31 6 1234 5678"),
    ClientDetails(name="Pieter Bakker", email="pieter@example.nl", language="nl"),
    ClientDetails(name="Emma Smith", email="emma@example.com", language="en", notes="Back pain"),
]


class Command(BaseCommand):
    help = "Load a demo practice (safe to run again) and print where to look."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, **options):
        practitioner = Practitioner.objects.filter(slug=SLUG).first()
        token = None
        if practitioner is None:
            practitioner, token = self._create_practice()
        else:
            self.stdout.write(f"Demo practice {practitioner.name!r} already loaded.")
        base = options["base_url"].rstrip("/")
        types = ", ".join(
            f"{t.name} (id {t.pk})" for t in practitioner.appointment_types.order_by("pk")
        )
        self.stdout.write(
            "\n".join(
                [
                    f"Practitioner: {practitioner.name} ({practitioner.slug}, "
                    f"{practitioner.timezone})",
                    f"Appointment types: {types}",
                    f"Bookings: {practitioner.bookings.count()}",
                    f"Admin: {base}/admin/  login {USERNAME} / {PASSWORD}",
                    f"Booking page: {base}/   API docs: {base}/api/docs/",
                    f"E-mails: {getattr(settings, 'EMAIL_FILE_PATH', 'see EMAIL_URL')}",
                ]
            )
        )
        if token:
            self.stdout.write(f"API token: {token}")

    def _create_practice(self):
        practitioner = practitioner_create(
            username=USERNAME,
            password=PASSWORD,
            name="Praktijk De Linde",
            timezone="Europe/Amsterdam",
            slug=SLUG,
            email="praktijk@example.nl",
        )
        # The demo login also opens the admin, which is the practitioner's desk for now.
        practitioner.user.is_staff = practitioner.user.is_superuser = True
        practitioner.user.save(update_fields=["is_staff", "is_superuser"])
        weekly_rules_replace(
            practitioner=practitioner,
            rules=[
                (day, start, end)
                for day in range(5)
                for start, end in ((time(9), time(12, 30)), (time(13, 30), time(17)))
            ],
        )
        intake = appointment_type_create(
            practitioner=practitioner,
            name="Nieuwe cliënt: eerste reeks (3 behandelingen)",
            slug="eerste-reeks",
            duration_minutes=60,
            slot_step_minutes=30,
            buffer_after_minutes=15,
            min_notice_minutes=12 * 60,
            max_days_ahead=90,
            series=[
                {"offset_days": 0, "duration_minutes": 60},
                # Day 4 (day 3 to 5 will do) and day 11 (day 10 to 13): every working
                # day can start a treatment, a busy follow-up hour moves by a day.
                {
                    "offset_days": 3,
                    "duration_minutes": 30,
                    "window_before_days": 1,
                    "window_after_days": 1,
                },
                {
                    "offset_days": 10,
                    "duration_minutes": 30,
                    "window_before_days": 1,
                    "window_after_days": 2,
                },
            ],
        )
        follow_up = appointment_type_create(
            practitioner=practitioner,
            name="Vervolgbehandeling",
            slug="vervolg",
            duration_minutes=30,
            buffer_after_minutes=10,
            min_notice_minutes=2 * 60,
            max_days_ahead=90,
        )
        now = timezone.now()
        today = timezone.localdate(now, timezone=practitioner.zone)
        date_override_save(practitioner=practitioner, date=today + timedelta(days=16), ranges=[])
        self._book_some(intake, follow_up, now, today)
        return practitioner, token_issue(user=practitioner.user)

    def _book_some(self, intake, follow_up, now, today):
        plan = [(intake, 2, 0), (follow_up, 1, 3), (follow_up, 5, 6)]
        for client, (appointment_type, days_ahead, nth) in zip(DEMO_CLIENTS, plan, strict=True):
            first = today + timedelta(days=days_ahead)
            slots = slot_list(
                appointment_type=appointment_type,
                first_day=first,
                last_day=first + timedelta(days=7),
                now=now,
            )
            if len(slots) > nth:
                booking_create(
                    appointment_type=appointment_type,
                    start=slots[nth].start,
                    client=client,
                    now=now,
                )
