"""Tenancy: a logged-in practitioner sees and changes only their own practice's data.

One rule for every face: a row belongs to the practitioner its `practitioner_path` leads
to. The admin (scheduler/admin/scope.py) lets superusers see everything (`scoped`); the
workspace shows one practice, one's own (`owned_by`). A user without a practitioner
profile sees nothing.
"""

from django.db.models import Model, QuerySet

from scheduler.models import Practitioner

# How to reach the owning practitioner from each model the admin shows or offers in a
# dropdown ("" is the practitioner itself). Apps add their own models with `register_path`.
_PATHS: dict[str, str] = {}


def register_path(model: type[Model], path: str) -> None:
    _PATHS[model._meta.label_lower] = path


def path_of(model: type[Model]) -> str | None:
    return _PATHS.get(model._meta.label_lower)


def own_practitioner(user) -> Practitioner | None:
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.practitioner
    except Practitioner.DoesNotExist:
        return None


def sees_all(user) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def owned_by(queryset: QuerySet, practitioner: Practitioner, path: str | None = None) -> QuerySet:
    """`queryset` narrowed to `practitioner`'s rows (`path`: how its model reaches them)."""
    if path is None:
        path = path_of(queryset.model)
    if path is None:
        # A model with no owner is no practitioner's business.
        return queryset.none()
    return queryset.filter(**{path or "pk": practitioner.pk})


def scoped(queryset: QuerySet, user, path: str | None = None) -> QuerySet:
    """`queryset` narrowed to what `user` may see: everything for a superuser."""
    if sees_all(user):
        return queryset
    practitioner = own_practitioner(user)
    if practitioner is None:
        return queryset.none()
    return owned_by(queryset, practitioner, path)


def in_scope(obj: Model, user) -> bool:
    if sees_all(user):
        return True
    path = path_of(type(obj))
    practitioner = own_practitioner(user)
    if path is None or practitioner is None:
        return False
    if path == "":
        return obj.pk == practitioner.pk
    if path == "practitioner":
        return obj.practitioner_id == practitioner.pk
    return scoped(type(obj)._default_manager.filter(pk=obj.pk), user).exists()
