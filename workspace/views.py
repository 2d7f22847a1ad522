"""The practitioner's workspace: server-rendered pages of one practice, the logged-in
practitioner's own (`own` narrows every query; another practice's ids are a 404). Views
parse input, call the domain (or sync, for calendars) to write or read, and render."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from scheduler.agenda import agenda_window
from scheduler.booking import (
    ClientDetails,
    booking_cancel,
    booking_create,
    booking_reschedule,
    practitioner_booking_type,
)
from scheduler.exceptions import SchedulingError, SlotUnavailable
from scheduler.models import (
    AppointmentType,
    Booking,
    DateOverride,
    Question,
    Session,
    WeeklyRule,
)
from scheduler.practice import (
    appointment_type_create,
    appointment_type_update,
    date_override_delete,
    weekly_rules_replace,
)
from scheduler.selectors import slot_find
from sync import connectors
from sync.ics.export import feed_tokens, feed_tokens_rotate
from sync.ics.fetch import FeedFetchError
from sync.models import CalendarConnection
from web.params import date_param, instant_param, monday_of
from web.weeks import week_days, week_slots, week_steps, week_to_show
from workspace import forms
from workspace.access import own, practitioner_required
from workspace.models import QuestionAnswer
from workspace.selectors import agenda_with_calendars
from workspace.services import (
    days_off_save,
    question_mark_answered,
    question_reopen,
    question_reply,
)

PICKER_WEEKS_AHEAD = 104


class LoginView(auth_views.LoginView):
    """Django's login with the configured backends (django-axes locks out first)."""

    template_name = "workspace/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("workspace:agenda")


@require_POST
def logout(request):
    from django.contrib.auth import logout as auth_logout

    auth_logout(request)
    return redirect("workspace:login")


# --- agenda ---------------------------------------------------------------------------


@practitioner_required
def agenda(request):
    """One day or one week of the agenda, in the practitioner's zone; today first."""
    practitioner = request.practitioner
    today = timezone.localdate(timezone=practitioner.zone)
    window = agenda_window(
        day=date_param(request.GET.get("date")), span=request.GET.get("span"), today=today
    )
    agenda = agenda_with_calendars(practitioner=practitioner, window=window, now=timezone.now())
    if window.span == "week" and window.holds(today):
        # Today first, the rest of the week after it, the days gone by last.
        agenda = [d for d in agenda if d.day >= today] + [d for d in agenda if d.day < today]
    broken = own(CalendarConnection.objects, request).exclude(status=CalendarConnection.Status.OK)
    return render(
        request,
        "workspace/agenda.html",
        {
            "agenda": agenda,
            "span": window.span,
            "first": window.first,
            "last": window.last,
            "previous": window.previous,
            "next": window.next,
            "today": today,
            "broken": list(broken),
            "section": "agenda",
        },
    )


def _booking_of(request, booking_id) -> Booking:
    return get_object_or_404(
        own(Booking.objects.select_related("appointment_type", "practitioner"), request),
        pk=booking_id,
    )


@practitioner_required
def booking_detail(request, booking_id):
    booking = _booking_of(request, booking_id)
    now = timezone.now()
    sessions = list(booking.sessions.order_by("position"))
    return render(
        request,
        "workspace/booking.html",
        {
            "booking": booking,
            "sessions": sessions,
            "upcoming": booking.status == Booking.Status.CONFIRMED
            and any(s.start > now and s.status == Session.Status.CONFIRMED for s in sessions),
            "movable": booking.status == Booking.Status.CONFIRMED
            and bool(sessions)
            and sessions[0].start > now,
            "form": forms.CancelForm(),
            "section": "agenda",
        },
    )


@practitioner_required
@require_POST
def booking_cancel_view(request, booking_id):
    booking = _booking_of(request, booking_id)
    form = forms.CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The message could not be sent: please shorten it."))
        return redirect("workspace:booking", booking.pk)
    try:
        booking_cancel(booking=booking, now=timezone.now(), message=form.cleaned_data["message"])
    except SchedulingError as exc:
        messages.error(request, _(exc.detail))
    else:
        messages.success(
            request,
            _("The appointment of %(name)s is cancelled; the client gets an e-mail.")
            % {"name": booking.client_name},
        )
    return redirect("workspace:booking", booking.pk)


@practitioner_required
@require_http_methods(["GET", "POST"])
def booking_move(request, booking_id):
    """The slot picker the client uses, with notice and horizon waived; POST moves."""
    booking = _booking_of(request, booking_id)
    taken = False
    if request.method == "POST":
        start = instant_param(request.POST.get("start"))
        try:
            if start is None:
                raise SlotUnavailable
            booking_reschedule(booking=booking, start=start, now=timezone.now(), notice_waived=True)
        except SlotUnavailable:
            taken = True
        except SchedulingError as exc:
            messages.error(request, _(exc.detail))
            return redirect("workspace:booking", booking.pk)
        else:
            messages.success(request, _("The appointment is moved; the client gets an e-mail."))
            return redirect("workspace:booking", booking.pk)
    first = booking.sessions.order_by("position").first()
    around = first.start.astimezone(request.practitioner.zone).date() if first else None
    return _picker(
        request,
        booking.appointment_type,
        action=reverse("workspace:booking-move", args=[booking.pk]),
        exclude=booking.pk,
        around=around,
        taken=taken,
        title=_("Move the appointment of %(name)s") % {"name": booking.client_name},
        booking=booking,
    )


@practitioner_required
def book_choose(request):
    return render(
        request, "workspace/book_choose.html", {"types": _types(request), "section": "agenda"}
    )


@practitioner_required
@require_http_methods(["GET", "POST"])
def book_for_client(request, type_id):
    """A booking taken by phone: pick a time (notice and horizon waived), then the client."""
    appointment_type = get_object_or_404(own(AppointmentType.objects, request), pk=type_id)
    start = instant_param(request.GET.get("start") or request.POST.get("start"))
    if start is None:
        return _book_picker(request, appointment_type)
    form = forms.ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = booking_create(
                appointment_type=appointment_type,
                start=start,
                client=ClientDetails(
                    name=data["name"],
                    email=data["email"],
                    phone=data["phone"],
                    notes=data["notes"],
                    language=data["language"],
                ),
                now=timezone.now(),
                by_practitioner=True,
                notice_waived=True,
            )
        except SlotUnavailable:
            return _book_picker(request, appointment_type, taken=start)
        except (SchedulingError, ValidationError) as exc:
            detail = getattr(exc, "detail", None)
            form.add_error(None, _(detail) if detail else exc)
        else:
            messages.success(
                request,
                _("Booked for %(name)s; the client gets a confirmation by e-mail.")
                % {"name": result.booking.client_name},
            )
            return redirect("workspace:booking", result.booking.pk)
    slot, _rules = slot_find(
        appointment_type=practitioner_booking_type(appointment_type),
        start=start,
        now=timezone.now(),
    )
    if slot is None:
        return _book_picker(request, appointment_type, taken=start)
    zone = request.practitioner.zone
    return render(
        request,
        "workspace/book_confirm.html",
        {
            "appointment_type": appointment_type,
            "form": form,
            "start_value": int(start.timestamp()),
            "sessions": [(s.start.astimezone(zone), s.end.astimezone(zone)) for s in slot.sessions],
            "section": "agenda",
        },
    )


def _book_picker(request, appointment_type, *, taken=None):
    """The week to pick a time from; after `taken` was lost, the week around it (a 409)."""
    return _picker(
        request,
        appointment_type,
        action=reverse("workspace:book", args=[appointment_type.pk]),
        method="get",
        taken=taken is not None,
        around=taken and taken.astimezone(request.practitioner.zone).date(),
        title=_("Book for a client: %(type)s") % {"type": appointment_type.name},
    )


def _picker(
    request,
    appointment_type,
    *,
    action,
    title,
    method="post",
    exclude=None,
    around=None,
    taken=False,
    booking=None,
):
    """A week of free times of `appointment_type` as the practitioner may book them."""
    zone = request.practitioner.zone
    now = timezone.now()
    today = timezone.localdate(now, timezone=zone)
    monday = week_to_show(date_param(request.GET.get("week")), fallback=around, today=today)
    slots = week_slots(
        practitioner_booking_type(appointment_type), monday, now=now, exclude_booking_id=exclude
    )
    previous_week, next_week = week_steps(
        monday, today=today, last_day=monday_of(today) + timedelta(weeks=PICKER_WEEKS_AHEAD)
    )
    return render(
        request,
        "workspace/picker.html",
        {
            "appointment_type": appointment_type,
            "title": title,
            "action": action,
            "method": method,
            "days": week_days(slots, monday, zone),
            "monday": monday,
            "previous_week": previous_week,
            "next_week": next_week,
            "taken": taken,
            "booking": booking,
            "section": "agenda",
        },
        status=409 if taken else 200,
    )


# --- hours and days off ------------------------------------------------------------------


@practitioner_required
@require_http_methods(["GET", "POST"])
def hours(request):
    practitioner = request.practitioner
    rules = list(own(WeeklyRule.objects, request).order_by("weekday", "start"))
    form = forms.HoursForm(request.POST or None, rules=rules)
    if request.method == "POST" and form.is_valid():
        try:
            weekly_rules_replace(practitioner=practitioner, rules=form.cleaned_data["rules"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Your weekly hours are saved."))
            return redirect("workspace:hours")
    return render(
        request,
        "workspace/hours.html",
        {"form": form, "preview": _preview(request), "section": "hours"},
    )


def _preview(request):
    """Next week's free times of each bookable type, as the client's page shows them."""
    practitioner = request.practitioner
    now = timezone.now()
    monday = monday_of(timezone.localdate(now, timezone=practitioner.zone)) + timedelta(days=7)
    preview = []
    for appointment_type in (
        own(AppointmentType.objects, request).filter(active=True).order_by("name")
    ):
        by_day = {}
        for slot in week_slots(appointment_type, monday, now=now):
            local = slot.start.astimezone(practitioner.zone)
            by_day.setdefault(local.date(), []).append(local)
        preview.append((appointment_type, sorted(by_day.items())))
    return {"monday": monday, "types": preview}


@practitioner_required
@require_http_methods(["GET", "POST"])
def days_off(request):
    practitioner = request.practitioner
    form = forms.DaysOffForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            days_off_save(
                practitioner=practitioner,
                first=data["first"],
                last=data["last"],
                ranges=data["ranges"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("workspace:days-off")
    today = timezone.localdate(timezone=practitioner.zone)
    overrides = (
        own(DateOverride.objects, request)
        .filter(date__gte=today)
        .prefetch_related("ranges")
        .order_by("date")
    )
    return render(
        request,
        "workspace/days_off.html",
        {"form": form, "overrides": overrides, "section": "days-off"},
    )


@practitioner_required
@require_POST
def day_off_delete(request, override_id):
    override = get_object_or_404(own(DateOverride.objects, request), pk=override_id)
    date_override_delete(override=override)
    messages.success(
        request,
        _("Removed: %(date)s has its weekly hours again.")
        % {"date": override.date.strftime("%d-%m-%Y")},
    )
    return redirect("workspace:days-off")


# --- appointment types ----------------------------------------------------------------


@practitioner_required
def types(request):
    return render(request, "workspace/types.html", {"types": _types(request), "section": "types"})


def _types(request):
    """The practitioner's appointment types, those clients can book first."""
    return own(AppointmentType.objects, request).order_by("-active", "name")


@practitioner_required
@require_http_methods(["GET", "POST"])
def type_edit(request, type_id=None):
    appointment_type = (
        get_object_or_404(own(AppointmentType.objects, request), pk=type_id)
        if type_id is not None
        else None
    )
    initial = forms.AppointmentTypeForm.initial_of(appointment_type) if appointment_type else {}
    series_initial = (
        [forms.SeriesItemForm.initial_of(i) for i in (appointment_type.series or [])]
        if appointment_type
        else []
    )
    form = forms.AppointmentTypeForm(request.POST or None, initial=initial)
    series = forms.SeriesFormSet(request.POST or None, initial=series_initial, prefix="series")
    if request.method == "POST" and form.is_valid() and series.is_valid():
        fields = form.type_fields()
        fields["series"] = series.series()
        try:
            if appointment_type is None:
                appointment_type = appointment_type_create(
                    practitioner=request.practitioner, **fields
                )
            else:
                appointment_type_update(appointment_type=appointment_type, **fields)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("“%(name)s” is saved.") % {"name": appointment_type.name})
            return redirect("workspace:types")
    return render(
        request,
        "workspace/type_form.html",
        {
            "form": form,
            "series": series,
            "appointment_type": appointment_type,
            "section": "types",
        },
    )


# --- calendars ------------------------------------------------------------------------


@practitioner_required
def calendars(request):
    practitioner = request.practitioner
    tokens = feed_tokens(practitioner)
    feeds = {
        kind: request.build_absolute_uri(reverse(f"feed-{kind}", args=[token.token]))
        for kind, token in tokens.items()
    }
    connections = own(CalendarConnection.objects, request).order_by("pk")
    return render(
        request,
        "workspace/calendars.html",
        {
            "connections": [_calendar_entry(c) for c in connections],
            "feeds": feeds,
            "form": forms.IcsForm(),
            "caldav_form": forms.CalDAVForm(auto_id="id_caldav_%s"),
            "google_enabled": bool(settings.GOOGLE_CLIENT_ID),
            "now": timezone.now(),
            "section": "calendars",
        },
    )


def _calendar_entry(connection: CalendarConnection) -> dict:
    """What the page shows of one connection, in its connector's words."""
    connector = connectors.of(connection)
    calendars = connector.calendars(connection) if connector.push_kind else []
    choice = None
    if calendars:
        choice = forms.CalendarChoiceForm(
            calendars=calendars,
            with_password="password" in connector.editable,
            initial={
                "push_calendar_id": connection.push_calendar_id,
                "busy_calendar_ids": connection.busy_calendar_ids,
            },
            auto_id=f"id_{connection.pk}_%s",
        )
    return {
        "connection": connection,
        "label": connector.label,
        "status": connector.status_text(connection),
        "choice": choice,
        # A provider's consent page, not a password, gives access again.
        "consent_again": not connector.connects_here
        and connection.status == CalendarConnection.Status.RECONNECT_NEEDED,
    }


@practitioner_required
@require_POST
def calendar_add_ics(request):
    form = forms.IcsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Fill in the address of the calendar."))
    elif _connect(request, CalendarConnection.Kind.ICS, form.cleaned_data):
        messages.success(request, _("Calendar added; its busy time is read now."))
    return redirect("workspace:calendars")


@practitioner_required
@require_POST
def calendar_add_caldav(request):
    form = forms.CalDAVForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("Fill in the server address, your user name and an app password.")
        )
    elif _connect(request, CalendarConnection.Kind.CALDAV, form.cleaned_data):
        messages.success(
            request, _("Calendar added; its calendars are looked up now (in the background).")
        )
    return redirect("workspace:calendars")


def _connect(request, kind: str, values: dict) -> bool:
    """Add a connection of this kind; reading starts after commit, in a worker."""
    try:
        connectors.get(kind).connect(
            practitioner=request.practitioner,
            user=request.user,
            values=values,
            redirect_uri="",
            now=timezone.now(),
        )
    except FeedFetchError as exc:
        messages.error(
            request, _("This address cannot be used: %(reason)s") % {"reason": _(str(exc))}
        )
        return False
    return True


def _connection_of(request, connection_id) -> CalendarConnection:
    return get_object_or_404(own(CalendarConnection.objects, request), pk=connection_id)


@practitioner_required
@require_POST
def calendar_sync(request, connection_id):
    connection = _connection_of(request, connection_id)
    connectors.of(connection).sync_soon(connection)
    messages.success(request, _("Synchronising; refresh the page in a moment."))
    return redirect("workspace:calendars")


@practitioner_required
@require_POST
def calendar_change(request, connection_id):
    connection = _connection_of(request, connection_id)
    connector = connectors.of(connection)
    form = forms.CalendarChoiceForm(
        request.POST,
        calendars=connector.calendars(connection),
        with_password="password" in connector.editable,
    )
    if not form.is_valid():
        messages.error(request, _("Choose a calendar for the bookings."))
        return redirect("workspace:calendars")
    values = {
        "push_calendar_id": form.cleaned_data["push_calendar_id"],
        "busy_calendar_ids": form.cleaned_data["busy_calendar_ids"],
    }
    if form.cleaned_data.get("password"):
        values["password"] = form.cleaned_data["password"]
    try:
        connector.update(connection=connection, values=values, now=timezone.now())
    except connectors.Refused as exc:
        for message in exc.errors.values():
            messages.error(request, message)
    else:
        messages.success(request, _("Calendar choice saved; the calendars are read again now."))
    return redirect("workspace:calendars")


@practitioner_required
@require_POST
def calendar_delete(request, connection_id):
    connection = _connection_of(request, connection_id)
    connectors.of(connection).remove(connection=connection, now=timezone.now())
    messages.success(request, _("Calendar removed, with its busy time."))
    return redirect("workspace:calendars")


@practitioner_required
@require_POST
def calendar_google(request):
    if not settings.GOOGLE_CLIENT_ID:
        messages.error(request, _("Google Calendar is not set up for this service."))
        return redirect("workspace:calendars")
    connected = connectors.get(CalendarConnection.Kind.GOOGLE).connect(
        practitioner=request.practitioner,
        user=request.user,
        values={},
        redirect_uri=request.build_absolute_uri(reverse("google-callback")),
        now=timezone.now(),
    )
    return HttpResponseRedirect(connected.redirect_to)


@practitioner_required
@require_POST
def feeds_rotate(request):
    feed_tokens_rotate(request.practitioner)
    messages.success(
        request, _("New feed addresses made; the old ones stop working now. Subscribe again.")
    )
    return redirect("workspace:calendars")


# --- questions ------------------------------------------------------------------------


@practitioner_required
def questions(request):
    answered = QuestionAnswer.objects.filter(question=OuterRef("pk"))
    items = (
        own(Question.objects, request)
        .annotate(answered=Exists(answered))
        .order_by("answered", "-created_at")[:200]
    )
    return render(request, "workspace/questions.html", {"questions": items, "section": "questions"})


@practitioner_required
@require_http_methods(["GET", "POST"])
def question_detail(request, question_id):
    question = get_object_or_404(own(Question.objects, request), pk=question_id)
    form = forms.ReplyForm(request.POST or None)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "answered":
            question_mark_answered(question=question, now=timezone.now())
            messages.success(request, _("Marked as answered."))
            return redirect("workspace:questions")
        if action == "reopen":
            question_reopen(question=question)
            return redirect("workspace:question", question.pk)
        if form.is_valid():
            question_reply(question=question, reply=form.cleaned_data["reply"], now=timezone.now())
            messages.success(
                request, _("Your answer is sent to %(email)s.") % {"email": question.email}
            )
            return redirect("workspace:questions")
    answer = QuestionAnswer.objects.filter(question=question).first()
    return render(
        request,
        "workspace/question.html",
        {"question": question, "answer": answer, "form": form, "section": "questions"},
    )


# --- parsing --------------------------------------------------------------------------
