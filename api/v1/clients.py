from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import IsPractitioner
from scheduler.privacy import client_data_erase, client_data_export


class ClientEmailSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class ClientSessionSerializer(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()
    status = serializers.CharField()


class ClientBookingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    appointment_type = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    notes = serializers.CharField()
    language = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.CharField()
    sessions = ClientSessionSerializer(many=True)


class ClientQuestionSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.CharField()
    message = serializers.CharField()
    created_at = serializers.CharField()


class ClientExportSerializer(serializers.Serializer):
    email = serializers.EmailField()
    bookings = ClientBookingSerializer(many=True)
    questions = ClientQuestionSerializer(many=True)


class ClientErasedSerializer(serializers.Serializer):
    bookings = serializers.IntegerField(help_text="Bookings anonymised")
    questions = serializers.IntegerField(help_text="Questions deleted")


class ClientExportApi(APIView):
    """All data the practice holds about one client (AVG/GDPR access request).

    POST `{"email"}` is the form to use: the address stays out of URLs, and so out of
    access logs, proxies and browser history. GET `?email=` still works (kept for
    compatibility; logs show its query string as [redacted])."""

    permission_classes = [IsPractitioner]

    @extend_schema(
        parameters=[OpenApiParameter("email", OpenApiTypes.EMAIL, required=True)],
        responses=ClientExportSerializer,
        tags=["clients"],
        description="Kept for compatibility; prefer POST, which keeps the address out of URLs.",
    )
    def get(self, request):
        return self._export(request, request.query_params)

    @extend_schema(
        request=ClientEmailSerializer,
        responses=ClientExportSerializer,
        tags=["clients"],
        operation_id="clients_export_by_body",
    )
    def post(self, request):
        return self._export(request, request.data)

    def _export(self, request, data) -> Response:
        query = ClientEmailSerializer(data=data)
        query.is_valid(raise_exception=True)
        response = Response(
            client_data_export(
                practitioner=request.user.practitioner, email=query.validated_data["email"]
            )
        )
        add_never_cache_headers(response)  # personal data
        return response


class ClientEraseApi(APIView):
    """Forget one client: upcoming bookings cancelled, all anonymised, questions deleted."""

    permission_classes = [IsPractitioner]

    @extend_schema(
        request=ClientEmailSerializer, responses=ClientErasedSerializer, tags=["clients"]
    )
    def post(self, request):
        data = ClientEmailSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            client_data_erase(
                practitioner=request.user.practitioner,
                email=data.validated_data["email"],
                now=timezone.now(),
            )
        )
