from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import BoundedDateField, StrictCharField, StrictIntegerField
from api.permissions import IsPractitioner
from api.serializers import TimeRangeSerializer
from scheduler.models import DateOverride, validate_timezone
from scheduler.practice import date_override_delete, date_override_save, weekly_availability_set


class WeeklyRuleSerializer(TimeRangeSerializer):
    weekday = StrictIntegerField(min_value=0, max_value=6, help_text="0 = Monday … 6 = Sunday")


class WeeklyAvailabilitySerializer(serializers.Serializer):
    timezone = StrictCharField(
        max_length=64, required=False, help_text="IANA zone the rules are read in"
    )
    rules = WeeklyRuleSerializer(many=True, max_length=200)

    def validate_timezone(self, value):
        validate_timezone(value)
        return value


class WeeklyAvailabilityApi(APIView):
    """The practitioner's weekly working hours; PUT replaces all of them."""

    permission_classes = [IsPractitioner]

    @extend_schema(responses=WeeklyAvailabilitySerializer, tags=["availability"])
    def get(self, request):
        return Response(self._shape(request.user.practitioner))

    @extend_schema(
        request=WeeklyAvailabilitySerializer,
        responses=WeeklyAvailabilitySerializer,
        tags=["availability"],
    )
    def put(self, request):
        practitioner = request.user.practitioner
        data = WeeklyAvailabilitySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        weekly_availability_set(
            practitioner=practitioner,
            timezone=data.validated_data.get("timezone"),
            rules=[(r["weekday"], r["start"], r["end"]) for r in data.validated_data["rules"]],
        )
        return Response(self._shape(practitioner))

    @staticmethod
    def _shape(practitioner):
        rules = practitioner.weekly_rules.order_by("weekday", "start")
        return WeeklyAvailabilitySerializer(
            {"timezone": practitioner.timezone, "rules": rules}
        ).data


class DateOverrideSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    date = BoundedDateField()
    ranges = TimeRangeSerializer(
        many=True, max_length=20, help_text="Empty: closed that day; else replaces the hours."
    )


def _override_data(override: DateOverride) -> dict:
    return DateOverrideSerializer(
        {"id": override.pk, "date": override.date, "ranges": override.ranges.all()}
    ).data


def _save_override(request, override: DateOverride | None = None) -> DateOverride:
    data = DateOverrideSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return date_override_save(
        practitioner=request.user.practitioner,
        date=data.validated_data["date"],
        ranges=[(r["start"], r["end"]) for r in data.validated_data["ranges"]],
        override=override,
    )


class DateOverrideListApi(APIView):
    permission_classes = [IsPractitioner]

    @extend_schema(responses=DateOverrideSerializer(many=True), tags=["availability"])
    def get(self, request):
        overrides = request.user.practitioner.date_overrides.prefetch_related("ranges")
        return Response([_override_data(o) for o in overrides.order_by("date")])

    @extend_schema(
        request=DateOverrideSerializer,
        responses={201: DateOverrideSerializer},
        tags=["availability"],
    )
    def post(self, request):
        override = _save_override(request)
        return Response(_override_data(override), status=status.HTTP_201_CREATED)


class DateOverrideDetailApi(APIView):
    permission_classes = [IsPractitioner]

    def _get(self, request, pk):
        return get_object_or_404(DateOverride, pk=pk, practitioner=request.user.practitioner)

    @extend_schema(responses=DateOverrideSerializer, tags=["availability"])
    def get(self, request, pk):
        return Response(_override_data(self._get(request, pk)))

    @extend_schema(
        request=DateOverrideSerializer, responses=DateOverrideSerializer, tags=["availability"]
    )
    def put(self, request, pk):
        return Response(_override_data(_save_override(request, self._get(request, pk))))

    @extend_schema(responses={204: None}, tags=["availability"])
    def delete(self, request, pk):
        date_override_delete(override=self._get(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
