"""The client's pages: the practice, booking week by week, questions, the manage link.

Everything works without JavaScript; views only parse input, call the domain and render.
"""

import functools
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_http_methods

from scheduler.booking import (
    ClientDetails,
    booking_by_manage_token,
    booking_cancel,
    booking_changeable_until,
    booking_create,
    booking_reschedule,
    client_change_notice,
)
from scheduler.exceptions import SchedulingError, SlotUnavailable, TooManyBookings
from scheduler.models import AppointmentType, Booking, Practitioner
from scheduler.page.forms import BookingForm, QuestionForm
from scheduler.questions import question_create
from scheduler.selectors import (
    slot_alternatives,
    slot_next_free,
    slot_options,
)
from web.limits import limit_reached
from web.params import date_param, instant_param, monday_of
from web.weeks import slot_view, week_days, week_slots, week_steps, week_to_show

WEEKS_TO_SEARCH = 8
ALTERNATIVES = 3
FAVICON = Path(__file__).resolve().parent.parent / "static/scheduler/favicon.ico"


@cache_control(public=True, max_age=7 * 24 * 3600)
def favicon(request):
    """/favicon.ico, which browsers (and the pages' <link rel="icon">) ask for."""
    return HttpResponse(_favicon_bytes(), content_type="image/x-icon")


@functools.cache
def _favicon_bytes() -> bytes:
    return FAVICON.read_bytes()


def home(request, slug=None):
    practitioner = _practitioner(slug)
    return render(
        request,
        "scheduler/page/home.html",
        {"practitioner": practitioner, "bsr_template": _bsr_template()},
    )


def book_choose(request, slug):
    practitioner = _practitioner(slug)
    types = practitioner.appointment_types.filter(active=True).order_by("-series", "pk")
    return render(
        request, "scheduler/page/book_choose.html", {"practitioner": practitioner, "types": types}
    )


def book_week(request, slug, type_id):
    practitioner, appointment_type = _practitioner_and_type(slug, type_id)
    return _render_week(request, practitioner, appointment_type)


@require_http_methods(["GET", "POST"])
def book_confirm(request, slug, type_id):
    practitioner, appointment_type = _practitioner_and_type(slug, type_id)
    now = timezone.now()
    start = instant_param(request.GET.get("start") or request.POST.get("start"))
    offered = start and slot_options(appointment_type=appointment_type, start=start, now=now)
    if not offered:
        return _render_week(request, practitioner, appointment_type, taken=start)
    slot = offered.slot
    chosen = _chosen_sessions(request, offered)
    form = BookingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if limit_reached(request, "booking"):
            form.add_error(None, _("Too many bookings from this address. Please try again later."))
            return _render_confirm(request, practitioner, appointment_type, offered, chosen, form)
        data = form.cleaned_data
        try:
            result = booking_create(
                appointment_type=appointment_type,
                start=slot.start,
                client=ClientDetails(
                    name=data["name"],
                    email=data["email"],
                    phone=data["phone"],
                    notes=data["notes"],
                    language=_language(),
                ),
                now=now,
                sessions=chosen,
            )
        except SlotUnavailable:
            return _render_week(request, practitioner, appointment_type, taken=slot.start)
        except (TooManyBookings, ValidationError) as exc:
            form.add_error(None, _error_text(exc))
            response = _render_confirm(
                request, practitioner, appointment_type, offered, chosen, form
            )
            response.status_code = 409 if isinstance(exc, TooManyBookings) else 400
            return response
        return redirect(reverse("manage-page", args=[result.manage_token]) + "?booked=1")
    return _render_confirm(request, practitioner, appointment_type, offered, chosen, form)


def _render_confirm(request, practitioner, appointment_type, offered, chosen, form):
    slot = offered.slot
    starts = chosen or [s.start for s in slot.sessions]
    durations = [s.end - s.start for s in slot.sessions]
    return render(
        request,
        "scheduler/page/book_confirm.html",
        {
            "practitioner": practitioner,
            "appointment_type": appointment_type,
            "slot": slot,
            "sessions": [
                (_local(begin, practitioner), int(length.total_seconds() // 60))
                for begin, length in zip(starts, durations, strict=True)
            ],
            "start_value": int(slot.start.timestamp()),
            "choices": _follow_up_choices(offered, starts, practitioner),
            "form": form,
        },
    )


def _chosen_sessions(request, offered) -> list[datetime] | None:
    """The client's choice of follow-up starts (fields session_1, session_2, ...), each
    defaulting to the proposed one; None when the client chose nothing."""
    params = request.POST if request.method == "POST" else request.GET
    sessions = offered.slot.sessions
    picked = [instant_param(params.get(f"session_{i}")) for i in range(1, len(sessions))]
    if not any(picked):
        return None
    return [sessions[0].start] + [
        value or proposed.start for value, proposed in zip(picked, sessions[1:], strict=True)
    ]


def _follow_up_choices(offered, starts, practitioner) -> list[dict]:
    """One <select> per follow-up that has more than one free start in its window."""
    choices = []
    for index, options in enumerate(offered.options[1:], start=1):
        if len(options) < 2:
            continue
        choices.append(
            {
                "name": f"session_{index}",
                "number": index + 1,
                "options": [
                    {
                        "value": int(option.start.timestamp()),
                        "start": _local(option.start, practitioner),
                        "selected": option.start == starts[index],
                        "proposed": option.start == offered.slot.sessions[index].start,
                    }
                    for option in options
                ],
            }
        )
    return choices


def _error_text(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return exc.detail


@require_http_methods(["GET", "POST"])
def question(request, slug):
    practitioner = _practitioner(slug)
    form = QuestionForm(request.POST or None)
    sent = request.GET.get("sent") == "1"
    error = None
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["website"]:
            return redirect(request.path + "?sent=1")  # a robot: say thanks, keep nothing
        if limit_reached(request, "question"):
            error = _("You have sent several questions already. Please try again later.")
        else:
            question_create(
                practitioner=practitioner,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                message=form.cleaned_data["message"],
                language=_language(),
                now=timezone.now(),
            )
            return redirect(request.path + "?sent=1")
    return render(
        request,
        "scheduler/page/question.html",
        {"practitioner": practitioner, "form": form, "sent": sent, "error": error},
    )


@never_cache  # the booking behind a secret link: no browser or proxy may keep a copy
@require_http_methods(["GET", "POST"])
def manage_page(request, token):
    booking = _booking(token)
    error = None
    if request.method == "POST" and request.POST.get("action") == "cancel":
        try:
            booking_cancel(booking=booking, now=timezone.now(), notice=client_change_notice())
        except SchedulingError as exc:
            error = exc.detail
        else:
            return redirect(request.path + "?cancelled=1")
    booking.refresh_from_db()
    practitioner = booking.practitioner
    sessions = list(booking.sessions.order_by("position"))
    now = timezone.now()
    until = booking_changeable_until(booking=booking, now=now, notice=client_change_notice())
    changeable = until is not None and now <= until
    choices = []
    if changeable and booking.status == Booking.Status.CONFIRMED and len(sessions) > 1:
        offered = slot_options(
            appointment_type=booking.appointment_type,
            start=sessions[0].start,
            now=now,
            exclude_booking_id=booking.pk,
        )
        if offered is not None and len(offered.options) == len(sessions):
            choices = _follow_up_choices(offered, [s.start for s in sessions], practitioner)
    return render(
        request,
        "scheduler/page/manage.html",
        {
            "booking": booking,
            "practitioner": practitioner,
            "sessions": [
                (_local(s.start, practitioner), _local(s.end, practitioner), s) for s in sessions
            ],
            "changeable": changeable,
            "choices": choices,
            "first_value": int(sessions[0].start.timestamp()) if sessions else None,
            "error": error,
            "notice_hours": settings.CLIENT_CHANGE_NOTICE_HOURS,
            "flash": next((k for k in ("booked", "cancelled", "moved") if k in request.GET), None),
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def manage_reschedule(request, token):
    booking = _booking(token)
    practitioner, appointment_type = booking.practitioner, booking.appointment_type
    if request.method == "POST":
        start = instant_param(request.POST.get("start"))
        if start is None:
            return _render_week(request, practitioner, appointment_type, booking=booking)
        chosen = _chosen_follow_ups(request, booking, start)
        try:
            booking_reschedule(
                booking=booking,
                start=start,
                now=timezone.now(),
                notice=client_change_notice(),
                sessions=chosen,
            )
        except ValidationError as exc:
            return _render_week(
                request, practitioner, appointment_type, booking=booking, error=_error_text(exc)
            )
        except SlotUnavailable:
            return _render_week(
                request, practitioner, appointment_type, booking=booking, taken=start
            )
        except SchedulingError as exc:
            return _render_week(
                request, practitioner, appointment_type, booking=booking, error=exc.detail
            )
        return redirect(reverse("manage-page", args=[token]) + "?moved=1")
    return _render_week(request, practitioner, appointment_type, booking=booking)


def _chosen_follow_ups(request, booking, start) -> list[datetime] | None:
    """The follow-up starts chosen on the manage page (session_1, ...), each defaulting to
    the booking's current one; None when none was sent: a move of the whole series to the
    proposed set at `start`."""
    current = [s.start for s in booking.sessions.order_by("position")]
    picked = [instant_param(request.POST.get(f"session_{i}")) for i in range(1, len(current))]
    if not any(picked):
        return None
    return [start] + [value or now for value, now in zip(picked, current[1:], strict=True)]


def _render_week(request, practitioner, appointment_type, *, booking=None, taken=None, error=None):
    """The week view; after a lost race, the nearest free times as alternatives."""
    now = timezone.now()
    zone = practitioner.zone
    today = timezone.localdate(now, timezone=zone)
    # Which week to open: the one asked for, else the one of a time just taken, else (when
    # rescheduling) the week of the booking's own first session, else this week.
    monday = week_to_show(
        date_param(request.GET.get("week")),
        fallback=(taken and _local_day(taken, practitioner))
        or (booking and _booking_day(booking, practitioner)),
        today=today,
    )
    exclude = booking.pk if booking else None
    slots = week_slots(appointment_type, monday, now=now, exclude_booking_id=exclude)
    next_free = None
    if not slots:
        found = slot_next_free(
            appointment_type=appointment_type,
            after_day=monday + timedelta(days=6),
            weeks=WEEKS_TO_SEARCH,
            now=now,
            exclude_booking_id=exclude,
        )
        next_free = found.start if found else None
        if next_free and "week" not in request.GET:
            # Nobody asked for this week: open the first week that has a free time.
            monday = monday_of(_local_day(next_free, practitioner))
            slots = week_slots(appointment_type, monday, now=now, exclude_booking_id=exclude)
            next_free = None
    alternatives = []
    if taken is not None:
        alternatives = slot_alternatives(
            appointment_type=appointment_type,
            near=taken,
            now=now,
            count=ALTERNATIVES,
            exclude_booking_id=exclude,
        )
    previous_week, next_week = week_steps(
        monday, today=today, last_day=today + timedelta(days=appointment_type.max_days_ahead)
    )
    return render(
        request,
        "scheduler/page/book_week.html",
        {
            "practitioner": practitioner,
            "appointment_type": appointment_type,
            "booking": booking,
            "days": week_days(slots, monday, zone),
            "monday": monday,
            "previous_week": previous_week,
            "next_week": next_week,
            "next_free": next_free and _local(next_free, practitioner),
            "next_free_week": next_free and monday_of(_local_day(next_free, practitioner)),
            "taken": taken is not None,
            "alternatives": [slot_view(s, zone) for s in alternatives],
            "error": error,
            "zone": zone.key,
            "windowed": any(
                item.get("window_before_days") or item.get("window_after_days")
                for item in appointment_type.series or []
            ),
        },
        status=409 if taken is not None else 200,
    )


def _practitioner(slug) -> Practitioner:
    if slug:
        return get_object_or_404(Practitioner, slug=slug)
    if settings.DEFAULT_PRACTITIONER:
        return get_object_or_404(Practitioner, slug=settings.DEFAULT_PRACTITIONER)
    practitioner = Practitioner.objects.order_by("pk").first()
    if practitioner is None:
        raise Http404
    return practitioner


def _practitioner_and_type(slug, type_id):
    practitioner = _practitioner(slug)
    appointment_type = get_object_or_404(
        AppointmentType, pk=type_id, practitioner=practitioner, active=True
    )
    return practitioner, appointment_type


def _booking(token) -> Booking:
    booking = booking_by_manage_token(token)
    if booking is None:
        raise Http404
    return booking


def _language() -> str:
    return "en" if (translation.get_language() or "").startswith("en") else "nl"


def _bsr_template() -> str:
    return f"scheduler/page/bsr_{_language()}.html"


def _local(instant: datetime, practitioner) -> datetime:
    return instant.astimezone(practitioner.zone)


def _local_day(instant: datetime, practitioner) -> date:
    return instant.astimezone(practitioner.zone).date()


def _booking_day(booking: Booking, practitioner) -> date | None:
    """The local date of the booking's first session, the one a reschedule moves from."""
    first = booking.sessions.order_by("position").first()
    return first and _local_day(first.start, practitioner)
