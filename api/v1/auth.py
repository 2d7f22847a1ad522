from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import StrictCharField
from api.permissions import IsPractitioner
from api.throttling import AuthThrottle
from scheduler.tokens import token_rotate


class TokenInputSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=128, trim_whitespace=False)


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField()


class AuthTokenApi(APIView):
    """Exchange a practitioner's username and password for their API token."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AuthThrottle]

    @extend_schema(request=TokenInputSerializer, responses=TokenOutputSerializer, tags=["auth"])
    def post(self, request):
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if getattr(request, "axes_locked_out", False):
            # Too many failures for this username from this address (django-axes).
            raise Throttled(detail="Too many failed logins; try again later.")
        if user is None or not user.is_active:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with these credentials."]}
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class AuthTokenRotateApi(APIView):
    """Issue a new API token; the one used until now answers 401 from this moment."""

    permission_classes = [IsPractitioner]

    @extend_schema(request=None, responses=TokenOutputSerializer, tags=["auth"])
    def post(self, request):
        presented = request.auth.key if isinstance(request.auth, Token) else None
        token = token_rotate(user=request.user, presented=presented)
        if token is None:
            # A rotation alongside this one replaced the token first: it is revoked now.
            raise AuthenticationFailed("Invalid token.")
        return Response({"token": token})
