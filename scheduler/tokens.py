"""Practitioners' API tokens: issued, rotated, and revoked when the password changes."""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from rest_framework.authtoken.models import Token

from scheduler.practice import account_lock


def token_issue(*, user) -> str:
    """The user's API token, made now if they have none."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def token_rotate(*, user, presented: str | None = None) -> str | None:
    """A new API token for `user`; every earlier one stops working now.

    `presented` is the token the request came with (None for a logged-in session). When a
    rotation running alongside has already replaced it, this one changes nothing and
    answers None: that token is revoked, so the caller treats it as any revoked token
    (401), and exactly one new token lives, the one the winning rotation handed out.
    """
    with transaction.atomic():
        # Rotations of one user wait for each other here: otherwise two deletes pass and
        # the second insert breaks the one-token-per-user constraint (a 500).
        account_lock(user.pk)
        if presented is not None and not Token.objects.filter(user=user, key=presented).exists():
            return None
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user).key


def tokens_revoke(*, user_id: int) -> None:
    Token.objects.filter(user_id=user_id).delete()


def _password_changed(instance, stored_hash: str) -> bool:
    if instance.password == stored_hash:
        return False
    # A login that upgrades the hash of the same password (new hasher or work factor)
    # leaves the password it checked here (api.auth_backends.PasswordBackend); if that still
    # matches the stored hash, nothing changed and the practitioner's integrations go on.
    raw = getattr(instance, "_password_at_login", None)
    return not (raw is not None and check_password(raw, stored_hash))


def _note_password_change(sender, instance, update_fields=None, raw=False, **kwargs):
    instance._revoke_api_tokens = False
    if raw or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True)
    stored_hash = stored.first()
    if stored_hash is not None and _password_changed(instance, stored_hash):
        instance._revoke_api_tokens = True


def _revoke_on_password_change(sender, instance, raw=False, **kwargs):
    if getattr(instance, "_revoke_api_tokens", False):
        instance._revoke_api_tokens = False
        tokens_revoke(user_id=instance.pk)


def connect() -> None:
    """Called from SchedulerConfig.ready()."""
    user_model = get_user_model()
    pre_save.connect(_note_password_change, sender=user_model, dispatch_uid="token-pw-pre")
    post_save.connect(_revoke_on_password_change, sender=user_model, dispatch_uid="token-pw-post")
