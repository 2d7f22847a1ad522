from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import IsPractitioner
from sync.ics.export import feed_tokens, feed_tokens_rotate


class FeedUrlsSerializer(serializers.Serializer):
    bookings_url = serializers.URLField(help_text="All bookings with client details")
    busy_url = serializers.URLField(help_text="Opaque busy blocks, no personal data")


def _urls(request, tokens) -> dict:
    return {
        "bookings_url": request.build_absolute_uri(
            reverse("feed-bookings", args=[tokens["bookings"].token])
        ),
        "busy_url": request.build_absolute_uri(reverse("feed-busy", args=[tokens["busy"].token])),
    }


class FeedListApi(APIView):
    """The practitioner's secret iCalendar feed URLs."""

    permission_classes = [IsPractitioner]

    @extend_schema(responses=FeedUrlsSerializer, tags=["feeds"])
    def get(self, request):
        return Response(_urls(request, feed_tokens(request.user.practitioner)))


class FeedRotateApi(APIView):
    """New secret feed URLs; the old ones answer 404 from now on."""

    permission_classes = [IsPractitioner]

    @extend_schema(request=None, responses=FeedUrlsSerializer, tags=["feeds"])
    def post(self, request):
        return Response(_urls(request, feed_tokens_rotate(request.user.practitioner)))
