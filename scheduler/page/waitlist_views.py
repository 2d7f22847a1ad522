"""The wait list on the booking page: join, leave (the link in the e-mail), claim an offer.

Claiming needs a POST (a button on the claim page): mail scanners that open links must
not book anything.
"""

import contextlib
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from scheduler.booking import ClientDetails
from scheduler.exceptions import TooManyBookings
from scheduler.page.forms import BookingForm
from scheduler.page.views import _language, _local, _practitioner_and_type
from scheduler.waitlist import (
    TooManyWaitlistEntries,
    waitlist_claim,
    waitlist_entry_by_token,
    waitlist_join,
    waitlist_leave,
    waitlist_offer_by_token,
    waitlist_offer_open,
)
from web.limits import limit_reached
from web.weeks import slot_view

DEFAULT_RANGE_DAYS = 14


class WaitlistForm(BookingForm):
    earliest = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    latest = forms.DateField(
        label=gettext_lazy("Until"), widget=forms.DateInput(attrs={"type": "date"})
    )
    field_order = ["earliest", "latest", "name", "email", "phone", "consent"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["notes"]
        self.fields["consent"].label = gettext_lazy(
            "I agree that the practice stores these details to offer me a time."
        )
        self.order_fields(self.field_order)


@require_http_methods(["GET", "POST"])
def waitlist_join_page(request, slug, type_id):
    practitioner, appointment_type = _practitioner_and_type(slug, type_id)
    now = timezone.now()
    today = timezone.localdate(now, timezone=practitioner.zone)
    horizon = today + timedelta(days=appointment_type.max_days_ahead)
    earliest = today
    week = request.GET.get("week")
    if week:
        with contextlib.suppress(ValidationError):
            earliest = max(today, min(horizon, forms.DateField().clean(week)))
    initial = {
        "earliest": earliest,
        "latest": min(horizon, earliest + timedelta(days=DEFAULT_RANGE_DAYS)),
    }
    form = WaitlistForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if limit_reached(request, "booking"):
            form.add_error(None, _("Too many requests from this address. Please try again later."))
            status = 429
        else:
            try:
                joined = waitlist_join(
                    appointment_type=appointment_type,
                    client=ClientDetails(
                        name=data["name"],
                        email=data["email"],
                        phone=data["phone"],
                        language=_language(),
                    ),
                    earliest=data["earliest"],
                    latest=data["latest"],
                    now=now,
                )
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    for message in messages:
                        form.add_error(name if name in form.fields else None, message)
                status = 400
            except TooManyWaitlistEntries as exc:
                form.add_error(None, str(exc.detail))
                status = 409
            else:
                return redirect(reverse("waitlist-page", args=[joined.manage_token]) + "?joined=1")
    return render(
        request,
        "scheduler/page/waitlist_join.html",
        {
            "practitioner": practitioner,
            "appointment_type": appointment_type,
            "form": form,
            "min_date": today,
            "max_date": horizon,
        },
        status=status,
    )


@csrf_exempt  # the secret token in the URL is the only key; no cookie grants anything here
@never_cache
@require_http_methods(["GET", "POST", "DELETE"])
def waitlist_page(request, token):
    """The entry behind the leave link; DELETE (or the page's button) leaves the list."""
    entry = waitlist_entry_by_token(token)
    if entry is None:
        raise Http404
    if request.method == "DELETE":
        waitlist_leave(entry=entry, now=timezone.now())
        return HttpResponse(status=204)
    if request.method == "POST" and request.POST.get("action") == "leave":
        waitlist_leave(entry=entry, now=timezone.now())
        return redirect(request.path + "?left=1")
    return render(
        request,
        "scheduler/page/waitlist_entry.html",
        {
            "entry": entry,
            "practitioner": entry.practitioner,
            "flash": next((k for k in ("joined", "left") if k in request.GET), None),
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def waitlist_claim_page(request, token):
    offer = waitlist_offer_by_token(token)
    if offer is None:
        raise Http404
    entry = offer.entry
    appointment_type = entry.appointment_type
    practitioner = appointment_type.practitioner
    now = timezone.now()
    context = {
        "entry": entry,
        "practitioner": practitioner,
        "appointment_type": appointment_type,
        "start": _local(offer.start, practitioner),
        "outcome": None,
        "alternatives": [],
        "error": None,
    }
    status = 200
    if request.method == "POST":
        if limit_reached(request, "booking"):
            context["error"] = _("Too many requests from this address. Please try again later.")
            return render(request, "scheduler/page/waitlist_claim.html", context, status=429)
        try:
            outcome = waitlist_claim(offer=offer, now=now)
        except TooManyBookings as exc:
            context["error"] = exc.detail
            return render(request, "scheduler/page/waitlist_claim.html", context, status=409)
        if outcome.won and outcome.result is not None:
            return redirect(
                reverse("manage-page", args=[outcome.result.manage_token]) + "?booked=1"
            )
        if outcome.won:
            context["outcome"] = "already"
        else:
            context["outcome"] = outcome.reason
            context["alternatives"] = [
                slot_view(s, practitioner.zone) for s in outcome.alternatives
            ]
            status = 409
    elif entry.status == entry.Status.CLAIMED and offer.claimed_at is not None:
        context["outcome"] = "already"
    elif not waitlist_offer_open(offer=offer, now=now):
        context["outcome"] = "taken" if entry.status == entry.Status.WAITING else "not_waiting"
    context["entry"].refresh_from_db()
    return render(request, "scheduler/page/waitlist_claim.html", context, status=status)
