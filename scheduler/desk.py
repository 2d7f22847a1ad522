"""The practitioner's desk in the admin: the agenda by day and week, and quick cancel."""

from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from scheduler.admin_scope import own_practitioner, scoped, sees_all
from scheduler.booking import booking_cancel
from scheduler.exceptions import SchedulingError
from scheduler.models import Booking, Practitioner, Session


class CancelForm(forms.Form):
    message = forms.CharField(
        label="Bericht aan de cliënt (optioneel)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
    )


def _practitioner(request) -> Practitioner | None:
    """Whose agenda: one's own; a superuser may pick any (?practitioner=ID, else the first)."""
    if not request.user.has_perm("scheduler.view_booking"):
        raise PermissionDenied
    chosen = scoped(Practitioner.objects.order_by("pk"), request.user)
    if sees_all(request.user):
        wanted = request.GET.get("practitioner", "")
        if wanted.isdigit():
            return get_object_or_404(chosen, pk=wanted)
        return own_practitioner(request.user) or chosen.first()
    return chosen.first()


@never_cache  # client names and times: like every admin page, never kept by a cache
@staff_member_required
def agenda(request):
    """One day or one week of sessions, in the practitioner's zone."""
    practitioner = _practitioner(request)
    if practitioner is None:
        messages.info(request, "Er is nog geen behandelaar.")
        return redirect("admin:index")
    zone = practitioner.zone
    today = timezone.localdate(timezone=zone)
    try:
        first = (
            date.fromisoformat(request.GET.get("date", "")) if request.GET.get("date") else today
        )
    except ValueError:
        first = today
    span = "day" if request.GET.get("span") == "day" else "week"
    if span == "week":
        first -= timedelta(days=first.weekday())
    days = 1 if span == "day" else 7
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(first + timedelta(days=days), time(0), tzinfo=zone)
    sessions = (
        Session.objects.filter(practitioner=practitioner, start__gte=start, start__lt=end)
        .select_related("booking__appointment_type")
        .order_by("start")
    )
    by_day = {first + timedelta(days=n): [] for n in range(days)}
    for session in sessions:
        by_day[session.start.astimezone(zone).date()].append(
            (session.start.astimezone(zone), session.end.astimezone(zone), session)
        )
    step = timedelta(days=days)
    context = {
        **admin.site.each_context(request),
        "title": "Agenda",
        "practitioner": practitioner,
        "days": sorted(by_day.items()),
        "span": span,
        "previous": first - step,
        "next": first + step,
        "today": today,
    }
    return render(request, "admin/scheduler/agenda.html", context)


@never_cache
@staff_member_required
def quick_cancel(request, booking_id: int):
    """Cancel a booking now (no cancellation window) and tell the client, with a message."""
    if not request.user.has_perm("scheduler.change_booking"):
        raise PermissionDenied
    # Someone else's booking is a 404, the same as one that does not exist.
    booking = get_object_or_404(
        scoped(Booking.objects.select_related("practitioner"), request.user), pk=booking_id
    )
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            booking_cancel(
                booking=booking, now=timezone.now(), message=form.cleaned_data["message"]
            )
        except SchedulingError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(
                request,
                f"Afspraak van {booking.client_name} geannuleerd; de cliënt krijgt een e-mail.",
            )
        return redirect(reverse("desk-agenda"))
    context = {
        **admin.site.each_context(request),
        "title": "Afspraak annuleren",
        "booking": booking,
        "sessions": booking.sessions.order_by("position"),
        "zone": booking.practitioner.zone,
        "form": form,
    }
    return render(request, "admin/scheduler/quick_cancel.html", context)
