from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import StrictCharField, StrictIntegerField
from api.permissions import IsPractitioner
from api.serializers import ErrorSerializer
from api.throttling import PublicReadThrottle
from scheduler.bounds import (
    MAX_BUFFER_MINUTES,
    MAX_DAYS_AHEAD,
    MAX_NOTICE_MINUTES,
    MAX_SERIES_OFFSET_DAYS,
    MAX_SERIES_SESSIONS,
    MAX_SERIES_WINDOW_DAYS,
    MAX_SESSION_MINUTES,
)
from scheduler.models import AppointmentType, Practitioner
from scheduler.practice import (
    appointment_type_create,
    appointment_type_delete,
    appointment_type_update,
)
from scheduler.types import series_from_json


class SeriesSessionSerializer(serializers.Serializer):
    offset_days = StrictIntegerField(min_value=0, max_value=MAX_SERIES_OFFSET_DAYS)
    duration_minutes = StrictIntegerField(min_value=5, max_value=MAX_SESSION_MINUTES)
    window_before_days = StrictIntegerField(
        min_value=0,
        max_value=MAX_SERIES_WINDOW_DAYS,
        required=False,
        help_text="Default 0. A follow-up may fall this many days before its ideal day (first: 0).",
    )
    window_after_days = StrictIntegerField(
        min_value=0,
        max_value=MAX_SERIES_WINDOW_DAYS,
        required=False,
        help_text="Default 0. A follow-up may fall this many days after its ideal day (first: 0).",
    )


class AppointmentTypeSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    practitioner = serializers.SlugField(source="practitioner.slug", read_only=True)
    name = StrictCharField(max_length=200)
    slug = serializers.SlugField(max_length=50, required=False)
    duration_minutes = StrictIntegerField(
        min_value=5,
        max_value=MAX_SESSION_MINUTES,
        required=False,
        help_text="Required unless `sessions` is given (then the first session's duration).",
    )
    buffer_before_minutes = StrictIntegerField(min_value=0, max_value=MAX_BUFFER_MINUTES, default=0)
    buffer_after_minutes = StrictIntegerField(min_value=0, max_value=MAX_BUFFER_MINUTES, default=0)
    slot_step_minutes = StrictIntegerField(
        min_value=5,
        max_value=24 * 60,
        allow_null=True,
        required=False,
        help_text="Minutes between offered starts; default (null) = the duration.",
    )
    min_notice_minutes = StrictIntegerField(min_value=0, max_value=MAX_NOTICE_MINUTES, default=0)
    max_days_ahead = StrictIntegerField(min_value=1, max_value=MAX_DAYS_AHEAD, default=90)
    # Built by hand so that only the list, not each session in it, may be null.
    sessions = serializers.ListSerializer(
        source="series",
        child=SeriesSessionSerializer(),
        allow_null=True,
        required=False,
        min_length=1,
        max_length=MAX_SERIES_SESSIONS,
        help_text="A series: every session at the same local time on these day offsets; "
        "a follow-up with a window may move to another day of it and another time of day. "
        "Windows may not overlap one another or the first day.",
    )
    active = serializers.BooleanField(default=True)

    def validate_sessions(self, value):
        if value is None:
            return None
        try:
            series_from_json([dict(item) for item in value])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return [dict(item) for item in value]

    def validate(self, attrs):
        if not self.partial and not attrs.get("series") and "duration_minutes" not in attrs:
            raise serializers.ValidationError(
                {"duration_minutes": "Required when there is no series."}
            )
        return attrs

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["slot_step_minutes"] = instance.step_minutes
        return data


class AppointmentTypeListApi(APIView):
    """Own types for a practitioner; with ?practitioner=SLUG, that practice's active types."""

    throttle_classes = [PublicReadThrottle]

    def get_permissions(self):
        if self.request.method == "GET" and "practitioner" in self.request.query_params:
            return [AllowAny()]
        return [IsPractitioner()]

    def get_throttles(self):
        if self.request.method == "GET" and "practitioner" in self.request.query_params:
            return super().get_throttles()
        return []

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "practitioner",
                OpenApiTypes.STR,
                description="A practitioner's slug: lists their active types, no login needed.",
            )
        ],
        responses=AppointmentTypeSerializer(many=True),
        tags=["appointment types"],
    )
    def get(self, request):
        slug = request.query_params.get("practitioner")
        if slug is not None:
            practitioner = get_object_or_404(
                Practitioner, slug=serializers.SlugField().run_validation(slug)
            )
            types = practitioner.appointment_types.filter(active=True)
        else:
            types = request.user.practitioner.appointment_types.all()
        types = types.select_related("practitioner").order_by("pk")
        return Response(AppointmentTypeSerializer(types, many=True).data)

    @extend_schema(
        request=AppointmentTypeSerializer,
        responses={201: AppointmentTypeSerializer},
        tags=["appointment types"],
    )
    def post(self, request):
        data = AppointmentTypeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        appointment_type = appointment_type_create(
            practitioner=request.user.practitioner, **data.validated_data
        )
        return Response(
            AppointmentTypeSerializer(appointment_type).data, status=status.HTTP_201_CREATED
        )


class AppointmentTypeDetailApi(APIView):
    permission_classes = [IsPractitioner]

    def _get(self, request, pk):
        return get_object_or_404(
            AppointmentType.objects.select_related("practitioner"),
            pk=pk,
            practitioner=request.user.practitioner,
        )

    @extend_schema(responses=AppointmentTypeSerializer, tags=["appointment types"])
    def get(self, request, pk):
        return Response(AppointmentTypeSerializer(self._get(request, pk)).data)

    @extend_schema(
        request=AppointmentTypeSerializer,
        responses=AppointmentTypeSerializer,
        tags=["appointment types"],
    )
    def patch(self, request, pk):
        appointment_type = self._get(request, pk)
        data = AppointmentTypeSerializer(appointment_type, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        appointment_type_update(appointment_type=appointment_type, **data.validated_data)
        return Response(AppointmentTypeSerializer(appointment_type).data)

    @extend_schema(responses={204: None, 409: ErrorSerializer}, tags=["appointment types"])
    def delete(self, request, pk):
        appointment_type_delete(appointment_type=self._get(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
