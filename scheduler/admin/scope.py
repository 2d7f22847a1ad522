"""Tenancy in the admin: a staff practitioner sees and changes only their own practice's data.

The rule is web/tenancy.py's, used by every ModelAdmin and inline (`PractitionerScopedAdmin`),
the desk views (`scoped`) and the connection banner: a row belongs to the practitioner its
`practitioner_path` leads to. Superusers see everything; a staff user without a
practitioner profile sees nothing.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.http import Http404

from web.tenancy import in_scope, own_practitioner, path_of, scoped, sees_all


class _ScopedFormFields:
    """Foreign-key and many-to-many choices limited to the user's own rows."""

    def _scope_choices(self, db_field, request, kwargs):
        related = db_field.related_model
        if sees_all(request.user) or "queryset" in kwargs:
            return
        if related is get_user_model():
            kwargs["queryset"] = related._default_manager.filter(pk=request.user.pk)
        else:
            # Unknown owner: `scoped` offers nothing rather than everyone's rows.
            kwargs["queryset"] = scoped(related._default_manager.all(), request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class PractitionerScopedInline(_ScopedFormFields):
    """For inlines: their rows and dropdowns are scoped like their parent's."""

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), request.user)


class PractitionerScopedAdmin(_ScopedFormFields):
    """Mix into every ModelAdmin of practice data, before `admin.ModelAdmin`.

    Lists, change/delete/history pages, actions (they act on the scoped changelist),
    autocomplete (it searches `get_queryset`) and dropdowns all go through `scoped`.
    Someone else's object answers 404, the same as one that does not exist.
    """

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), request.user)

    # -- permissions: the model permission, and the object must be one's own ------------
    def _may_touch(self, request, obj) -> bool:
        if sees_all(request.user):
            return True
        if own_practitioner(request.user) is None:
            return False
        return obj is None or in_scope(obj, request.user)

    def has_module_permission(self, request):
        return super().has_module_permission(request) and self._may_touch(request, None)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._may_touch(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_touch(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_touch(request, obj)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and self._may_touch(request, None)

    # -- forms: new rows belong to the user; nobody moves a row to another practitioner ---
    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        practitioner = own_practitioner(request.user)
        if practitioner is not None and path_of(self.model) == "practitioner":
            initial.setdefault("practitioner", practitioner.pk)
        return initial

    def save_model(self, request, obj, form, change):
        if not sees_all(request.user) and path_of(self.model) == "practitioner":
            practitioner = own_practitioner(request.user)
            if practitioner is None:  # has_*_permission already refused; belt and braces
                raise Http404
            obj.practitioner = practitioner
        super().save_model(request, obj, form, change)

    # -- someone else's id is a 404, not a redirect that tells it exists --------------
    def _404_unless_visible(self, request, object_id):
        if object_id is not None and self.get_object(request, unquote(object_id)) is None:
            raise Http404

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._404_unless_visible(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._404_unless_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._404_unless_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)


class SuperuserOnlyAdmin:
    """For admins of accounts, tokens and login records: superusers only."""

    def has_module_permission(self, request):
        return sees_all(request.user)

    def has_view_permission(self, request, obj=None):
        return sees_all(request.user)

    def has_change_permission(self, request, obj=None):
        return sees_all(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return sees_all(request.user) and super().has_delete_permission(request, obj)

    def has_add_permission(self, request, *args):
        return sees_all(request.user) and super().has_add_permission(request, *args)


def restrict_to_superusers(*models: type[Model], site: admin.AdminSite = admin.site) -> None:
    """Re-register the admins of `models` (registered by other apps) as superuser-only."""
    for model in models:
        if not site.is_registered(model):
            continue
        current = type(site.get_model_admin(model))
        site.unregister(model)
        site.register(model, type(current.__name__, (SuperuserOnlyAdmin, current), {}))
