"""Server-rendered pages for clients."""

from datetime import timedelta

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from scheduler.booking import booking_by_manage_token, booking_cancel
from scheduler.exceptions import SchedulingError


@require_http_methods(["GET", "POST"])
def manage_page(request, token):
    """The client's private page for one booking: see it, cancel it."""
    booking = booking_by_manage_token(token)
    if booking is None:
        raise Http404
    error = None
    if request.method == "POST" and request.POST.get("action") == "cancel":
        try:
            booking_cancel(
                booking=booking,
                now=timezone.now(),
                notice=timedelta(hours=settings.CLIENT_CHANGE_NOTICE_HOURS),
            )
        except SchedulingError as exc:
            error = exc.detail
        else:
            return redirect(request.path)
    booking.refresh_from_db()
    zone = booking.practitioner.zone
    sessions = [
        (s.start.astimezone(zone), s.end.astimezone(zone), s.status)
        for s in booking.sessions.order_by("position")
    ]
    return render(
        request,
        "scheduler/manage.html",
        {
            "booking": booking,
            "sessions": sessions,
            "zone": zone.key,
            "error": error,
            "notice_hours": settings.CLIENT_CHANGE_NOTICE_HOURS,
        },
    )
