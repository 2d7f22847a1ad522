from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import StrictCharField
from api.permissions import IsPractitioner
from sync import connectors
from sync.ics.fetch import FeedFetchError
from sync.models import CalendarConnection


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
        if not connectors.get(value).connects_here:
            raise serializers.ValidationError(
                "Only iCal feeds and CalDAV calendars are added here; connect Google through "
                "google/connect/."
            )
        return value

    def validate(self, attrs):
        if "kind" in attrs:
            missing = {
                name: ["This field is required."]
                for name in connectors.get(attrs["kind"]).required
                if not attrs.get(self.fields[name].source)
            }
            if missing:
                raise serializers.ValidationError(missing)
        return attrs

    def get_setup_pending(self, connection) -> bool:
        return connectors.of(connection).setup_pending(connection)

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
        values = dict(data.validated_data)
        values["username"] = values.pop("caldav_username", "")
        try:
            # Reading (CalDAV: finding the calendars) starts in a task after commit.
            connection = (
                connectors.get(values["kind"])
                .connect(
                    practitioner=request.user.practitioner,
                    user=request.user,
                    values=values,
                    redirect_uri="",
                    now=timezone.now(),
                )
                .connection
            )
        except FeedFetchError as exc:
            raise serializers.ValidationError({"url": [str(exc)]}) from exc
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
        connector = connectors.of(connection)
        foreign = {
            field: [gettext("%(label)s connections do not have this.") % {"label": connector.label}]
            for field in values
            if field not in connector.editable
        }
        if foreign:
            raise serializers.ValidationError(foreign)
        try:
            connection = connector.update(connection=connection, values=values, now=timezone.now())
        except FeedFetchError as exc:
            raise serializers.ValidationError({"url": [str(exc)]}) from exc
        except connectors.Refused as exc:
            raise serializers.ValidationError(
                {field: [message] for field, message in exc.errors.items()}
            ) from exc
        return Response(CalendarConnectionSerializer(connection).data)

    @extend_schema(responses={204: None}, tags=["calendars"])
    def delete(self, request, pk):
        connection = self._get(request, pk)
        connectors.of(connection).remove(connection=connection, now=timezone.now())
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
        connected = connectors.get(CalendarConnection.Kind.GOOGLE).connect(
            practitioner=request.user.practitioner,
            user=request.user,
            values={},
            redirect_uri=request.build_absolute_uri(reverse("google-callback")),
            now=timezone.now(),
        )
        return Response({"authorization_url": connected.redirect_to})
