from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import StrictCharField
from api.permissions import IsPractitioner
from sync.calendars import calendar_connection_delete, ics_connection_create, ics_connection_update
from sync.ics.fetch import FeedFetchError
from sync.models import CalendarConnection
from sync.tasks import ics_sync


class CalendarConnectionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=["ics"], help_text="Google is added by the OAuth flow")
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    url = StrictCharField(max_length=2000, help_text="https:// or webcal:// address of the feed")
    block_all_day = serializers.BooleanField(required=False, default=True)
    status = serializers.ChoiceField(choices=CalendarConnection.Status.values, read_only=True)
    last_synced_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_success_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_error = serializers.CharField(read_only=True)
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)


class CalendarConnectionUpdateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    url = StrictCharField(max_length=2000, required=False)
    block_all_day = serializers.BooleanField(required=False)


def _sync_soon(connection: CalendarConnection) -> None:
    transaction.on_commit(lambda: ics_sync.delay(connection.pk, force=True))


class CalendarListApi(APIView):
    """The practitioner's calendar connections; POST subscribes to an iCal feed."""

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
        try:
            connection = ics_connection_create(
                practitioner=request.user.practitioner,
                url=values["url"],
                name=values["name"],
                block_all_day=values["block_all_day"],
            )
        except FeedFetchError as exc:
            raise serializers.ValidationError({"url": [str(exc)]}) from exc
        _sync_soon(connection)
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
        if "url" in data.validated_data and connection.kind != CalendarConnection.Kind.ICS:
            raise serializers.ValidationError({"url": ["Only iCal connections have a URL."]})
        try:
            connection = ics_connection_update(connection=connection, **data.validated_data)
        except FeedFetchError as exc:
            raise serializers.ValidationError({"url": [str(exc)]}) from exc
        if connection.kind == CalendarConnection.Kind.ICS:
            _sync_soon(connection)
        return Response(CalendarConnectionSerializer(connection).data)

    @extend_schema(responses={204: None}, tags=["calendars"])
    def delete(self, request, pk):
        calendar_connection_delete(connection=self._get(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
