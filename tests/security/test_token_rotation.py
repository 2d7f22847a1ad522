"""API tokens: rotated on request, and revoked whenever the password changes."""

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"  # what factories.practitioner() sets


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """A stronger default than the tests' MD5, cheap enough for a test."""

    iterations = 2


@pytest.fixture
def person():
    return factories.practitioner()


def api(key: str | None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def works(key: str) -> bool:
    status = api(key).get("/api/v1/feeds/").status_code
    assert status in (200, 401), status
    return status == 200


def token_of(person) -> str:
    return Token.objects.get(user=person.user).key


def test_rotate_issues_a_new_token_and_the_old_one_answers_401_at_once(person):
    old = token_of(person)
    response = api(old).post("/api/v1/auth/token/rotate/")
    assert response.status_code == 200
    new = response.json()["token"]
    assert new and new != old
    assert not works(old)
    assert works(new)
    assert api(old).post("/api/v1/auth/token/rotate/").status_code == 401


def test_rotate_needs_a_practitioner(person, db):
    assert api(None).post("/api/v1/auth/token/rotate/").status_code == 401
    assert works(token_of(person))


def test_rotate_touches_only_ones_own_token(person):
    other = factories.practitioner()
    kept = token_of(other)
    api(token_of(person)).post("/api/v1/auth/token/rotate/")
    assert works(kept)


def test_set_password_and_save_revokes_the_token(person):
    old = token_of(person)
    person.user.set_password("another-long-password")
    person.user.save()
    assert not works(old)
    # A login with the new password gets a new token that works.
    response = api(None).post(
        "/api/v1/auth/token/",
        {"username": person.user.username, "password": "another-long-password"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["token"] != old
    assert works(response.json()["token"])


def test_a_hash_written_directly_revokes_the_token_too(person):
    old = token_of(person)
    person.user.password = make_password("yet-another-password")
    person.user.save(update_fields=["password"])
    assert not works(old)


def test_changing_the_password_in_the_admin_revokes_the_token(person):
    old = token_of(person)
    person.user.is_staff = True
    person.user.save()
    assert works(old)  # saving other fields keeps it
    own = Client()
    own.force_login(person.user)
    response = own.post(
        "/admin/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-password",
            "new_password2": "a-brand-new-password",
        },
    )
    assert response.status_code == 302
    assert not works(old)


def test_a_superuser_setting_the_password_in_the_admin_revokes_the_token(person):
    from django.contrib.auth import get_user_model

    old = token_of(person)
    root = get_user_model().objects.create_superuser("root", "root@example.nl", "root-password")
    admin = Client()
    admin.force_login(root)
    response = admin.post(
        f"/admin/auth/user/{person.user.pk}/password/",
        {"password1": "a-brand-new-password", "password2": "a-brand-new-password"},
    )
    assert response.status_code == 302
    assert not works(old)


def test_rehashing_the_same_password_on_login_keeps_the_token(person, settings):
    """A new hasher (or iteration count) rewrites the hash at login; integrations go on."""
    old = token_of(person)
    settings.PASSWORD_HASHERS = [
        "tests.security.test_token_rotation.FastPBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    before = person.user.password
    response = api(None).post(
        "/api/v1/auth/token/",
        {"username": person.user.username, "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 200 and response.json()["token"] == old
    person.user.refresh_from_db()
    assert person.user.password != before  # it was rehashed
    assert person.user.password.startswith("pbkdf2_sha256$")
    assert works(old)


def test_rotate_is_in_the_openapi_schema(db):
    schema = Client().get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/auth/token/rotate/"]["post"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/TokenOutput"}
