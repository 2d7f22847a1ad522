from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import AwareDateTimeField, BoundedDateField
from api.serializers import ErrorSerializer, IntervalSerializer
from api.throttling import SlotsThrottle
from scheduler.bounds import MAX_SLOT_RANGE_DAYS
from scheduler.exceptions import SlotUnavailable
from scheduler.models import AppointmentType, validate_timezone
from scheduler.selectors import appointment_type_series, slot_list, slot_options
from sync.calendars import busy_mirrored_at

# Slots change when someone books; a short shared cache still absorbs bursts.
SLOTS_CACHE_CONTROL = "public, max-age=15"


class SlotQuerySerializer(serializers.Serializer):
    appointment_type = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    start = BoundedDateField(help_text="First local date, inclusive")
    end = BoundedDateField(help_text="Last local date, inclusive")
    tz = serializers.CharField(
        max_length=64, required=False, help_text="IANA zone to show times and dates in"
    )

    def validate_tz(self, value):
        validate_timezone(value)
        return value

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "Must not be before start."})
        if (attrs["end"] - attrs["start"]).days >= MAX_SLOT_RANGE_DAYS:
            raise serializers.ValidationError(
                {"end": f"The range may span at most {MAX_SLOT_RANGE_DAYS} days."}
            )
        return attrs


class SlotSerializer(serializers.Serializer):
    start = AwareDateTimeField()
    end = AwareDateTimeField()
    sessions = IntervalSerializer(many=True)


class SlotListSerializer(serializers.Serializer):
    timezone = serializers.CharField()
    slots = SlotSerializer(many=True)
    busy_as_of = serializers.DateTimeField(
        allow_null=True,
        help_text="When the busy time of the practitioner's calendars was last read (the "
        "oldest of them); null when none is connected or one was never read.",
    )


class SlotListApi(APIView):
    """Bookable slots of one appointment type, read from the database only."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [SlotsThrottle]

    @extend_schema(parameters=[SlotQuerySerializer], responses=SlotListSerializer, tags=["public"])
    def get(self, request):
        query = SlotQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        appointment_type = get_object_or_404(
            AppointmentType.objects.select_related("practitioner"),
            pk=params["appointment_type"],
            active=True,
        )
        home = appointment_type.practitioner.zone
        view = ZoneInfo(params["tz"]) if "tz" in params else home
        key = (
            f"slots:{appointment_type.pk}:{appointment_type.practitioner.schedule_version}:"
            f"{params['start']}:{params['end']}:{view.key}"
        )
        data = cache.get(key) if settings.SLOTS_CACHE_SECONDS else None
        if data is None:
            data = {
                "timezone": view.key,
                "slots": _slots(appointment_type, params, home, view),
                "busy_as_of": _busy_as_of(appointment_type.practitioner_id),
            }
            if settings.SLOTS_CACHE_SECONDS:
                cache.set(key, data, settings.SLOTS_CACHE_SECONDS)
        response = Response(data)
        response["Cache-Control"] = SLOTS_CACHE_CONTROL
        return response


class SlotOptionsQuerySerializer(serializers.Serializer):
    appointment_type = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    start = AwareDateTimeField(
        help_text="The first session's start, with its UTC offset (encode + as %2B)"
    )
    tz = serializers.CharField(
        max_length=64, required=False, help_text="IANA zone to show times in"
    )

    def validate_tz(self, value):
        validate_timezone(value)
        return value


class SessionOptionsSerializer(serializers.Serializer):
    offset_days = serializers.IntegerField(help_text="The session's ideal day after the first")
    proposed = IntervalSerializer(help_text="The session of the proposed set")
    options = IntervalSerializer(
        many=True, help_text="Every free start its window allows, given the first session"
    )


class SlotOptionsSerializer(serializers.Serializer):
    timezone = serializers.CharField()
    sessions = SessionOptionsSerializer(many=True)


class SlotOptionsApi(APIView):
    """For one first-session start of a series: the proposed set, and for every session
    the free starts inside its window (to choose from when booking)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [SlotsThrottle]

    @extend_schema(
        parameters=[SlotOptionsQuerySerializer],
        responses={200: SlotOptionsSerializer, 409: ErrorSerializer},
        tags=["public"],
    )
    def get(self, request):
        query = SlotOptionsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        appointment_type = get_object_or_404(
            AppointmentType.objects.select_related("practitioner"),
            pk=params["appointment_type"],
            active=True,
        )
        view = ZoneInfo(params["tz"]) if "tz" in params else appointment_type.practitioner.zone
        offered = slot_options(
            appointment_type=appointment_type, start=params["start"], now=timezone.now()
        )
        if offered is None:
            raise SlotUnavailable()

        def interval(value):
            return {
                "start": value.start.astimezone(view).isoformat(),
                "end": value.end.astimezone(view).isoformat(),
            }

        series = appointment_type_series(appointment_type)
        response = Response(
            {
                "timezone": view.key,
                "sessions": [
                    {
                        "offset_days": spec.offset_days,
                        "proposed": interval(proposed),
                        "options": [interval(option) for option in options],
                    }
                    for spec, proposed, options in zip(
                        series, offered.slot.sessions, offered.options, strict=True
                    )
                ],
            }
        )
        response["Cache-Control"] = SLOTS_CACHE_CONTROL
        return response


def _slots(appointment_type, params, home, view) -> list[dict]:
    """The slots whose first start falls on a date in [start, end] as seen in `view`."""
    start, end = params["start"], params["end"]
    if view != home:
        # A local date in the viewer's zone can fall on the day before or after.
        start, end = start - timedelta(days=1), end + timedelta(days=1)
    slots = slot_list(
        appointment_type=appointment_type, first_day=start, last_day=end, now=timezone.now()
    )
    return [
        _slot_data(slot, view)
        for slot in slots
        if params["start"] <= slot.start.astimezone(view).date() <= params["end"]
    ]


def _slot_data(slot, zone) -> dict:
    # Built by hand: a month holds hundreds of slots and this is the hottest public path.
    # SlotListSerializer documents the same shape in the schema.
    def instant(value):
        return value.astimezone(zone).isoformat()

    return {
        "start": instant(slot.start),
        "end": instant(slot.end),
        "sessions": [{"start": instant(s.start), "end": instant(s.end)} for s in slot.sessions],
    }


def _busy_as_of(practitioner_id: int) -> str | None:
    oldest = busy_mirrored_at(practitioner_id=practitioner_id)
    return oldest.isoformat() if oldest else None
