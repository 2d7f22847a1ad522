"""The practitioner's desk in the admin: the agenda by day and week, and quick cancel."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from scheduler.agenda import agenda_days, agenda_window
from scheduler.booking import booking_cancel
from scheduler.exceptions import SchedulingError
from scheduler.models import Booking, Practitioner
from web.params import date_param
from web.tenancy import own_practitioner, scoped, sees_all


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
    today = timezone.localdate(timezone=practitioner.zone)
    window = agenda_window(
        day=date_param(request.GET.get("date")), span=request.GET.get("span"), today=today
    )
    context = {
        **admin.site.each_context(request),
        "title": "Agenda",
        "practitioner": practitioner,
        "agenda": agenda_days(practitioner=practitioner, window=window, now=timezone.now()),
        "span": window.span,
        "previous": window.previous,
        "next": window.next,
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
