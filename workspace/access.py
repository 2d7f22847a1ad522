"""Who may use the workspace: a logged-in user with a practitioner profile, for that
practice only. Every query of the workspace is narrowed with `own`."""

import functools

from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse

from web.tenancy import own_practitioner, owned_by


def practitioner_required(view):
    """Log in first; then `request.practitioner` is the user's own practice (else 404)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("workspace:login"))
        practitioner = own_practitioner(request.user)
        if practitioner is None:
            raise Http404
        request.practitioner = practitioner
        return view(request, *args, **kwargs)

    return wrapped


def own(queryset: QuerySet, request, path: str = "practitioner") -> QuerySet:
    """`queryset` narrowed to the logged-in practitioner's rows; superusers included (the
    workspace shows one practice: one's own)."""
    return owned_by(queryset, request.practitioner, path)
