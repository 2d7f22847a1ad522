import re
from contextlib import nullcontext
from datetime import timedelta

from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.authentication import OptionalSessionAuthentication, OptionalTokenAuthentication
from api.fields import AwareDateTimeField, BoundedDateField, StrictCharField, StrictIntegerField
from api.permissions import PublicPostMixin
from api.serializers import ErrorSerializer, IntervalSerializer, local_days
from api.throttling import ManageThrottle
from scheduler.booking import (
    ClientDetails,
    booking_by_manage_token,
    booking_cancel,
    booking_changeable_until,
    booking_create,
    booking_reschedule,
    client_change_notice,
)
from scheduler.bounds import MAX_SERIES_SESSIONS
from scheduler.exceptions import SchedulingError
from scheduler.models import AppointmentType, Booking
from scheduler.selectors import booking_list
from scheduler.validators import no_links, no_markup, phone_characters

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
MAX_LIST_DAYS = 400


class ChosenSessionSerializer(serializers.Serializer):
    start = AwareDateTimeField(help_text="This session's start, with its UTC offset")


def _chosen_sessions_field():
    return serializers.ListField(
        child=ChosenSessionSerializer(),
        required=False,
        min_length=1,
        max_length=MAX_SERIES_SESSIONS,
        help_text="Optional: every session's start, in series order (the first equals "
        "`start`), each inside its window (see /api/v1/slots/options/). Without it the "
        "proposed set is booked.",
    )


def _chosen_starts(values) -> list | None:
    sessions = values.get("sessions")
    return None if sessions is None else [item["start"] for item in sessions]


class BookingInputSerializer(serializers.Serializer):
    appointment_type = StrictIntegerField(min_value=1, max_value=2**63 - 1)
    start = AwareDateTimeField(help_text="The slot's start, with its UTC offset")
    name = StrictCharField(max_length=200, validators=[no_markup, no_links])
    email = serializers.EmailField(max_length=254)
    phone = StrictCharField(
        max_length=40, allow_blank=True, default="", validators=[phone_characters]
    )
    notes = StrictCharField(max_length=2000, allow_blank=True, default="", multiline=True)
    language = serializers.ChoiceField(choices=Booking.Language.values, default="nl")
    sessions = _chosen_sessions_field()

    def validate_email(self, value):
        if not isinstance(self.initial_data.get("email"), str):
            raise serializers.ValidationError("Must be a string.")
        return value


class SessionSerializer(IntervalSerializer):
    status = serializers.CharField()


class BookingOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Booking.Status.values)
    appointment_type = serializers.IntegerField(source="appointment_type_id")
    start = AwareDateTimeField()
    end = AwareDateTimeField()
    sessions = SessionSerializer(many=True, source="session_list")


class BookingCreatedSerializer(BookingOutputSerializer):
    manage_url = serializers.URLField()


class PractitionerBookingSerializer(BookingOutputSerializer):
    name = serializers.CharField(source="client_name")
    email = serializers.EmailField(source="client_email")
    phone = serializers.CharField(source="client_phone")
    notes = serializers.CharField()
    language = serializers.CharField()
    created_at = AwareDateTimeField()


class ManagedBookingSerializer(BookingOutputSerializer):
    name = serializers.CharField(source="client_name")
    email = serializers.EmailField(source="client_email")
    language = serializers.CharField()
    changeable_until = AwareDateTimeField(
        allow_null=True, help_text="Cancel or reschedule online until then"
    )


class BookingListQuerySerializer(serializers.Serializer):
    start = BoundedDateField(required=False)
    end = BoundedDateField(required=False)
    status = serializers.ChoiceField(choices=Booking.Status.values, required=False)

    def validate(self, attrs):
        start = attrs.get("start") or timezone.localdate() - timedelta(days=30)
        end = attrs.get("end") or start + timedelta(days=365)
        if end < start:
            raise serializers.ValidationError({"end": "Must not be before start."})
        if (end - start).days > MAX_LIST_DAYS:
            raise serializers.ValidationError({"end": f"At most {MAX_LIST_DAYS} days."})
        return {**attrs, "start": start, "end": end}


class RescheduleInputSerializer(serializers.Serializer):
    start = AwareDateTimeField()
    sessions = _chosen_sessions_field()


def _serialize(serializer_class, booking: Booking, **extra) -> dict:
    """Render a booking with its instants in the practitioner's zone.

    `start`/`end` are the first session's, as for a slot; `sessions` lists all of them.
    """
    sessions = sorted(booking.sessions.all(), key=lambda s: s.position)
    booking.start, booking.end = sessions[0].start, sessions[0].end
    booking.session_list = sessions
    for name, value in extra.items():
        setattr(booking, name, value)
    with timezone.override(booking.practitioner.zone):
        return serializer_class(booking).data


class BookingListCreateApi(PublicPostMixin, APIView):
    """POST books a slot (public); GET lists the practitioner's own bookings."""

    def public_post_authenticators(self):
        # Nor may a bad token refuse the request. Credentials that hold tell the
        # practitioner's own bookings (not capped per e-mail address) from a client's.
        if getattr(self, "swagger_fake_view", False):
            return []  # the schema: public, no credentials needed
        return [OptionalTokenAuthentication(), OptionalSessionAuthentication()]

    @extend_schema(
        parameters=[BookingListQuerySerializer],
        responses=PractitionerBookingSerializer(many=True),
        tags=["bookings"],
    )
    def get(self, request):
        query = BookingListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        practitioner = request.user.practitioner
        start, end = local_days(
            practitioner.zone, query.validated_data["start"], query.validated_data["end"]
        )
        bookings = booking_list(
            practitioner_id=practitioner.pk,
            start=start,
            end=end,
            status=query.validated_data.get("status"),
        )
        for booking in bookings:
            booking.practitioner = practitioner
        return Response([_serialize(PractitionerBookingSerializer, b) for b in bookings])

    @extend_schema(
        request=BookingInputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Same key and body: the first response again, no second booking.",
                pattern=IDEMPOTENCY_KEY.pattern,  # what _book accepts, so clients know it
            )
        ],
        responses={201: BookingCreatedSerializer, 409: ErrorSerializer, 422: ErrorSerializer},
        tags=["public"],
    )
    def post(self, request):
        # Messages in the client's language: the body's `language`, else Accept-Language.
        language = request.data.get("language") if isinstance(request.data, dict) else None
        known = isinstance(language, str) and language in Booking.Language.values
        with translation.override(language) if known else nullcontext():
            try:
                response = self._book(request)
            except SchedulingError as exc:
                exc.detail = str(exc.detail)  # rendered after the language is restored
                raise
        add_never_cache_headers(response)  # the body holds the manage link
        return response

    def _book(self, request):
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY.match(key):
            raise serializers.ValidationError(
                {"Idempotency-Key": ["1 to 255 printable ASCII characters."]}
            )
        data = BookingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        appointment_type = (
            AppointmentType.objects.select_related("practitioner")
            .filter(pk=values["appointment_type"], active=True)
            .first()
        )
        if appointment_type is None:
            raise serializers.ValidationError({"appointment_type": ["Unknown appointment type."]})
        result = booking_create(
            appointment_type=appointment_type,
            start=values["start"],
            client=ClientDetails(
                name=values["name"],
                email=values["email"],
                phone=values["phone"],
                notes=values["notes"],
                language=values["language"],
            ),
            now=timezone.now(),
            idempotency_key=key,
            by_practitioner=_is_own_practitioner(request, appointment_type),
            sessions=_chosen_starts(values),
        )
        manage_url = (
            request.build_absolute_uri(reverse("manage-page", args=[result.manage_token]))
            if result.manage_token
            else None
        )
        body = _serialize(BookingCreatedSerializer, result.booking, manage_url=manage_url)
        return Response(body, status=status.HTTP_201_CREATED)


def _is_own_practitioner(request, appointment_type: AppointmentType) -> bool:
    """The logged-in practitioner (token or session) books in their own agenda."""
    user = request.user
    practitioner = getattr(user, "practitioner", None) if user.is_authenticated else None
    return practitioner is not None and practitioner.pk == appointment_type.practitioner_id


class ManageBaseApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ManageThrottle]

    def finalize_response(self, request, response, *args, **kwargs):
        # The booking behind a secret link: no browser or proxy may keep a copy.
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    def _booking(self, token: str) -> Booking:
        booking = booking_by_manage_token(token)
        if booking is None:
            raise Http404
        return booking

    def _respond(self, booking: Booking) -> Response:
        booking = Booking.objects.select_related("practitioner").get(pk=booking.pk)
        until = booking_changeable_until(
            booking=booking,
            now=timezone.now(),
            notice=client_change_notice(),
        )
        return Response(_serialize(ManagedBookingSerializer, booking, changeable_until=until))


class ManageDetailApi(ManageBaseApi):
    @extend_schema(responses=ManagedBookingSerializer, tags=["manage"])
    def get(self, request, token):
        return self._respond(self._booking(token))


class ManageCancelApi(ManageBaseApi):
    @extend_schema(
        request=None,
        responses={200: ManagedBookingSerializer, 409: ErrorSerializer},
        tags=["manage"],
    )
    def post(self, request, token):
        booking = booking_cancel(
            booking=self._booking(token),
            now=timezone.now(),
            notice=client_change_notice(),
        )
        return self._respond(booking)


class ManageRescheduleApi(ManageBaseApi):
    @extend_schema(
        request=RescheduleInputSerializer,
        responses={200: ManagedBookingSerializer, 409: ErrorSerializer},
        tags=["manage"],
    )
    def post(self, request, token):
        booking = self._booking(token)
        data = RescheduleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = booking_reschedule(
            booking=booking,
            start=data.validated_data["start"],
            now=timezone.now(),
            notice=client_change_notice(),
            sessions=_chosen_starts(data.validated_data),
        )
        return self._respond(booking)
