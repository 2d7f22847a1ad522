"""Endpoints outside the API: secret feed URLs, and Google's OAuth return and push hook."""

import hmac

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date, quote_etag
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from sync import tasks
from sync.google.oauth import OAuthFailed, google_connect_finish
from sync.ics.export import FeedWindow, feed_build, feed_etag, feed_last_modified
from sync.models import FeedToken, GoogleCalendarSync


@require_safe
def feed(request, token: str, kind: str):
    feed_token = (
        FeedToken.objects.select_related("practitioner").filter(token=token, kind=kind).first()
    )
    if feed_token is None:
        raise Http404
    window = FeedWindow.at(timezone.now())
    etag = quote_etag(feed_etag(token=feed_token, window=window))
    last_modified = int(feed_last_modified(token=feed_token, window=window).timestamp())
    response = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if response is None:
        # Reversed once: the feed may hold thousands of bookings.
        change = request.build_absolute_uri(reverse("admin:scheduler_booking_change", args=[0]))
        prefix, suffix = change.rsplit("/0/", 1)

        def admin_url(booking_id):
            return f"{prefix}/{booking_id}/{suffix}"

        body = feed_build(token=feed_token, window=window, admin_url=admin_url)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    # Personal data for the bookings feed: no shared caches.
    patch_cache_control(response, private=True, max_age=300)
    return response


@require_safe
def google_callback(request):
    """Where Google sends the practitioner back after they allowed access.

    Only the logged-in user who started the connection can finish it: a practitioner who
    started it with an API token logs in first and comes back here."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url=reverse("workspace:login"))
    code, state = request.GET.get("code", ""), request.GET.get("state", "")
    if request.GET.get("error") or not code or not state:
        return HttpResponse(
            "Google Calendar was not connected. You can close this page and try again.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    try:
        google_connect_finish(
            state=state[:128],
            code=code[:2048],
            user=request.user,
            redirect_uri=request.build_absolute_uri(reverse("google-callback")),
            now=timezone.now(),
        )
    except OAuthFailed as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    # Back to the practitioner's calendars page (superusers without a practice: the admin).
    if hasattr(request.user, "practitioner"):
        return redirect(reverse("workspace:calendars") + "?google=connected")
    return redirect(reverse("admin:index") + "?google=connected")


@csrf_exempt
@require_POST
def google_webhook(request):
    """Push notification: it carries no event data, only "pull now" for one calendar."""
    channel_id = request.headers.get("X-Goog-Channel-ID", "")[:64]
    token = request.headers.get("X-Goog-Channel-Token", "")
    sync = GoogleCalendarSync.objects.filter(channel_id=channel_id).first() if channel_id else None
    # Bytes, not str: compare_digest refuses non-ASCII text, and any token may arrive.
    given = token.encode("utf-8", "surrogatepass")
    if sync is None or not hmac.compare_digest(sync.channel_token.encode(), given):
        return HttpResponse(status=404)
    if request.headers.get("X-Goog-Resource-State") != "sync":  # "sync" only opens a channel
        tasks.after_commit(tasks.google_pull, sync.connection_id)
    return HttpResponse(status=200)
