"""The secret feed URLs: no login, the token in the URL is the key."""

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date, quote_etag
from django.views.decorators.http import require_safe

from sync.ics.export import FeedWindow, feed_build, feed_etag, feed_last_modified
from sync.models import FeedToken


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
