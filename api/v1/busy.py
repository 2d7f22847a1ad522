from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import AwareDateTimeField, BoundedDateField
from api.permissions import IsPractitioner
from api.serializers import local_days
from scheduler.selectors import busy_block_list

MAX_BUSY_DAYS = 400


class BusyQuerySerializer(serializers.Serializer):
    start = BoundedDateField()
    end = BoundedDateField()

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "Must not be before start."})
        if (attrs["end"] - attrs["start"]).days > MAX_BUSY_DAYS:
            raise serializers.ValidationError({"end": f"At most {MAX_BUSY_DAYS} days."})
        return attrs


class BusyBlockSerializer(serializers.Serializer):
    start = AwareDateTimeField()
    end = AwareDateTimeField()
    source = serializers.CharField(help_text="The calendar it was mirrored from")


class BusyListApi(APIView):
    """Busy time mirrored from the practitioner's calendars (no event titles)."""

    permission_classes = [IsPractitioner]

    @extend_schema(
        parameters=[BusyQuerySerializer], responses=BusyBlockSerializer(many=True), tags=["busy"]
    )
    def get(self, request):
        query = BusyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        practitioner = request.user.practitioner
        start, end = local_days(
            practitioner.zone, query.validated_data["start"], query.validated_data["end"]
        )
        blocks = busy_block_list(practitioner_id=practitioner.pk, start=start, end=end)
        return Response(BusyBlockSerializer(blocks, many=True).data)
