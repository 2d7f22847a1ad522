"""The wait list: clients join (public), practitioners list their own entries.

The client leaves through `manage_url` (DELETE on it, or the page behind it). Offers of
freed times and their claim links go out by e-mail (sync/waitlist.py).
"""

from contextlib import nullcontext

from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import AwareDateTimeField, BoundedDateField, StrictCharField, StrictIntegerField
from api.permissions import PublicPostMixin
from api.serializers import ErrorSerializer
from scheduler.booking import ClientDetails
from scheduler.exceptions import SchedulingError
from scheduler.models import AppointmentType, Booking, WaitlistEntry
from scheduler.validators import no_links, no_markup, phone_characters
from scheduler.waitlist import waitlist_entry_list, waitlist_join


class WaitlistInputSerializer(serializers.Serializer):
    appointment_type = StrictIntegerField(min_value=1, max_value=2**63 - 1)
    name = StrictCharField(max_length=200, validators=[no_markup, no_links])
    email = serializers.EmailField(max_length=254)
    phone = StrictCharField(
        max_length=40, allow_blank=True, default="", validators=[phone_characters]
    )
    language = serializers.ChoiceField(choices=Booking.Language.values, default="nl")
    earliest = BoundedDateField(help_text="First local date the client could come")
    latest = BoundedDateField(help_text="Last local date the client could come (inclusive)")

    def validate_email(self, value):
        if not isinstance(self.initial_data.get("email"), str):
            raise serializers.ValidationError("Must be a string.")
        return value


class WaitlistJoinedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    manage_url = serializers.URLField(help_text="The client's private link: DELETE leaves")


class WaitlistEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    appointment_type = serializers.IntegerField(source="appointment_type_id")
    name = serializers.CharField()
    email = serializers.EmailField()
    earliest = serializers.DateField()
    latest = serializers.DateField()
    status = serializers.ChoiceField(choices=WaitlistEntry.Status.values)
    created_at = AwareDateTimeField()


class WaitlistListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=WaitlistEntry.Status.values, required=False)


class WaitlistListCreateApi(PublicPostMixin, APIView):
    """POST puts a client on the wait list (public); GET lists the practitioner's entries."""

    @extend_schema(
        parameters=[WaitlistListQuerySerializer],
        responses=WaitlistEntrySerializer(many=True),
        tags=["waitlist"],
    )
    def get(self, request):
        query = WaitlistListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        practitioner = request.user.practitioner
        entries = waitlist_entry_list(
            practitioner_id=practitioner.pk, status=query.validated_data.get("status")
        )
        with timezone.override(practitioner.zone):
            return Response(WaitlistEntrySerializer(entries, many=True).data)

    @extend_schema(
        request=WaitlistInputSerializer,
        responses={201: WaitlistJoinedSerializer, 409: ErrorSerializer},
        tags=["public"],
        auth=[],
    )
    def post(self, request):
        language = request.data.get("language") if isinstance(request.data, dict) else None
        known = isinstance(language, str) and language in Booking.Language.values
        with translation.override(language) if known else nullcontext():
            try:
                response = self._join(request)
            except SchedulingError as exc:
                exc.detail = str(exc.detail)
                raise
        add_never_cache_headers(response)  # the body holds the private link
        return response

    def _join(self, request):
        data = WaitlistInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        appointment_type = (
            AppointmentType.objects.select_related("practitioner")
            .filter(pk=values["appointment_type"], active=True)
            .first()
        )
        if appointment_type is None:
            raise serializers.ValidationError({"appointment_type": ["Unknown appointment type."]})
        joined = waitlist_join(
            appointment_type=appointment_type,
            client=ClientDetails(
                name=values["name"],
                email=values["email"],
                phone=values["phone"],
                language=values["language"],
            ),
            earliest=values["earliest"],
            latest=values["latest"],
            now=timezone.now(),
        )
        manage_url = request.build_absolute_uri(
            reverse("waitlist-page", args=[joined.manage_token])
        )
        return Response(
            {"id": joined.entry.pk, "manage_url": manage_url}, status=status.HTTP_201_CREATED
        )
