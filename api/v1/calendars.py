from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import StrictCharField
from api.permissions import IsPractitioner
from sync.caldav.service import (
    caldav_connection_create,
    caldav_connection_delete,
    caldav_connection_update,
)
from sync.calendars import (
    calendar_connection_delete,
    calendar_connection_update,
    ics_connection_create,
)
from sync.google.oauth import google_connect_start, google_connection_disconnect
from sync.ics.fetch import FeedFetchError
from sync.models import CalendarConnection
from sync.tasks import after_commit, caldav_pull, caldav_setup


class AvailableCalendarSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(required=False, help_text="CalDAV: the calendar's name")
    summary = serializers.CharField(required=False, help_text="Google: the calendar's name")
    primary = serializers.BooleanField(required=False, help_text="Google: the main calendar")


class CalendarConnectionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(
        choices=CalendarConnection.Kind.values, help_text="Google is added by the OAuth flow"
    )
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    url = StrictCharField(
        max_length=2000,
        help_text="ICS: https:// or webcal:// address of the feed; CalDAV: the server, its "
        "/.well-known/caldav, the principal or the calendar home",
    )
    username = StrictCharField(
        source="caldav_username", max_length=320, required=False, help_text="CalDAV: account"
    )
    password = StrictCharField(
        max_length=1000,
        required=False,
        write_only=True,
        help_text="CalDAV: (app-specific) password; stored encrypted, never shown again",
    )
    setup_pending = serializers.SerializerMethodField(
        help_text="CalDAV: true until the account's calendars were found"
    )
    busy_age_seconds = serializers.SerializerMethodField(
        help_text="How old the mirrored busy time is (null: never read)"
    )
    push_calendar_id = serializers.CharField(
        read_only=True, help_text="Google: the calendar that receives bookings"
    )
    busy_calendar_ids = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Google: calendars that block"
    )
    available_calendars = AvailableCalendarSerializer(many=True, read_only=True)
    queue_depth = serializers.SerializerMethodField(help_text="Changes still to send to Google")
    block_all_day = serializers.BooleanField(required=False, default=True)
    status = serializers.ChoiceField(choices=CalendarConnection.Status.values, read_only=True)
    last_synced_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_success_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_error = serializers.CharField(read_only=True)
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)

    def validate_kind(self, value):
        if value == CalendarConnection.Kind.GOOGLE:
            raise serializers.ValidationError(
                "Only iCal feeds and CalDAV calendars are added here; connect Google through "
                "google/connect/."
            )
        return value

    def validate(self, attrs):
        if attrs.get("kind") == CalendarConnection.Kind.CALDAV:
            missing = {
                name: ["This field is required."]
                for name, key in (("username", "caldav_username"), ("password", "password"))
                if not attrs.get(key)
            }
            if missing:
                raise serializers.ValidationError(missing)
        return attrs

    def get_setup_pending(self, connection) -> bool:
        return connection.kind == CalendarConnection.Kind.CALDAV and not connection.caldav_home_url

    def get_busy_age_seconds(self, connection) -> int | None:
        if connection.last_success_at is None:
            return None
        return max(int((timezone.now() - connection.last_success_at).total_seconds()), 0)

    def get_queue_depth(self, connection) -> int:
        return connection.outbox.filter(done_at__isnull=True).count()


class CalendarConnectionUpdateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    url = StrictCharField(max_length=2000, required=False)
    block_all_day = serializers.BooleanField(required=False)
    push_calendar_id = StrictCharField(max_length=1024, required=False)
    busy_calendar_ids = serializers.ListField(
        child=StrictCharField(max_length=1024), required=False, max_length=50
    )
    username = StrictCharField(max_length=320, required=False, help_text="CalDAV: account")
    password = StrictCharField(
        max_length=1000, required=False, write_only=True, help_text="CalDAV: a new password"
    )


class GoogleConnectSerializer(serializers.Serializer):
    authorization_url = serializers.URLField()


def _check_calendars(connection: CalendarConnection, values: dict) -> None:
    """CalDAV: once the calendars are known, only those can be chosen."""
    known = {c["id"] for c in connection.available_calendars or []}
    if not known:
        return
    if "push_calendar_id" in values and values["push_calendar_id"] not in known:
        raise serializers.ValidationError(
            {"push_calendar_id": ["Not one of this account's calendars."]}
        )
    if set(values.get("busy_calendar_ids", [])) - known:
        raise serializers.ValidationError(
            {"busy_calendar_ids": ["Not one of this account's calendars."]}
        )


class CalendarListApi(APIView):
    """The practitioner's calendar connections; POST subscribes to an iCal feed or adds a
    CalDAV account (201 at once; a task discovers its calendars after commit)."""

    permission_classes = [IsPractitioner]

    @extend_schema(responses=CalendarConnectionSerializer(many=True), tags=["calendars"])
    def get(self, request):
        connections = request.user.practitioner.calendar_connections.order_by("pk")
        return Response(CalendarConnectionSerializer(connections, many=True).data)

    @extend_schema(
        request=CalendarConnectionSerializer,
        responses={201: CalendarConnectionSerializer},
        tags=["calendars"],
    )
    def post(self, request):
        data = CalendarConnectionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        caldav = values["kind"] == CalendarConnection.Kind.CALDAV
        try:
            if caldav:
                connection = caldav_connection_create(
                    practitioner=request.user.practitioner,
                    url=values["url"],
                    username=values["caldav_username"],
                    password=values["password"],
                    name=values["name"],
                )
            else:
                connection = ics_connection_create(
                    practitioner=request.user.practitioner,
                    url=values["url"],
                    name=values["name"],
                    block_all_day=values["block_all_day"],
                )
        except FeedFetchError as exc:
            raise serializers.ValidationError({"url": [str(exc)]}) from exc
        if caldav:  # discovery talks to the server: in a task, never in this request
            after_commit(caldav_setup, connection.pk)
        return Response(
            CalendarConnectionSerializer(connection).data, status=status.HTTP_201_CREATED
        )


class CalendarDetailApi(APIView):
    permission_classes = [IsPractitioner]

    def _get(self, request, pk):
        return get_object_or_404(CalendarConnection, pk=pk, practitioner=request.user.practitioner)

    @extend_schema(responses=CalendarConnectionSerializer, tags=["calendars"])
    def get(self, request, pk):
        return Response(CalendarConnectionSerializer(self._get(request, pk)).data)

    @extend_schema(
        request=CalendarConnectionUpdateSerializer,
        responses=CalendarConnectionSerializer,
        tags=["calendars"],
    )
    def patch(self, request, pk):
        connection = self._get(request, pk)
        data = CalendarConnectionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        is_ics = connection.kind == CalendarConnection.Kind.ICS
        is_caldav = connection.kind == CalendarConnection.Kind.CALDAV
        if "url" in values and not is_ics:
            raise serializers.ValidationError({"url": ["Only iCal connections have a URL."]})
        for field in ("push_calendar_id", "busy_calendar_ids"):
            if field in values and is_ics:
                raise serializers.ValidationError({field: ["Only Google connections have this."]})
        for field in ("username", "password"):
            if field in values and not is_caldav:
                raise serializers.ValidationError({field: ["Only CalDAV connections have this."]})
        if is_caldav:
            _check_calendars(connection, values)
            credentials = "password" in values or "username" in values
            connection = caldav_connection_update(
                connection=connection, now=timezone.now(), **values
            )
            if credentials:
                after_commit(caldav_setup, connection.pk)
            else:
                after_commit(caldav_pull, connection.pk, force=True)
            return Response(CalendarConnectionSerializer(connection).data)
        try:
            connection = calendar_connection_update(connection=connection, **values)
        except FeedFetchError as exc:
            raise serializers.ValidationError({"url": [str(exc)]}) from exc
        return Response(CalendarConnectionSerializer(connection).data)

    @extend_schema(responses={204: None}, tags=["calendars"])
    def delete(self, request, pk):
        connection = self._get(request, pk)
        if connection.kind == CalendarConnection.Kind.GOOGLE:
            google_connection_disconnect(connection=connection, now=timezone.now())
        elif connection.kind == CalendarConnection.Kind.CALDAV:
            caldav_connection_delete(connection=connection)
        else:
            calendar_connection_delete(connection=connection)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GoogleConnectApi(APIView):
    """Start connecting Google Calendar: send the practitioner to the returned URL."""

    permission_classes = [IsPractitioner]

    @extend_schema(request=None, responses=GoogleConnectSerializer, tags=["calendars"])
    def post(self, request):
        if not settings.GOOGLE_CLIENT_ID:
            raise serializers.ValidationError(
                {"non_field_errors": ["Google Calendar is not configured (GOOGLE_CLIENT_ID)."]}
            )
        url = google_connect_start(
            practitioner=request.user.practitioner,
            user=request.user,
            redirect_uri=request.build_absolute_uri(reverse("google-callback")),
        )
        return Response({"authorization_url": url})
