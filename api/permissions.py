from rest_framework.permissions import IsAuthenticated


class IsPractitioner(IsAuthenticated):
    """A logged-in user with a practitioner profile; the views scope data to it."""

    message = "This account is not a practitioner."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and hasattr(request.user, "practitioner")
