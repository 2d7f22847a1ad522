"""Login lockout (django-axes): per username and address, admin login and API token login."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"  # what factories.practitioner() sets


@pytest.fixture
def staff():
    person = factories.practitioner()
    person.user.is_staff = True
    person.user.save()
    return person.user


def admin_login(client: Client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def logged_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_axes_is_on_in_the_tests_too():
    assert settings.AXES_ENABLED
    assert settings.AUTHENTICATION_BACKENDS[0] == "api.auth_backends.LoginLockoutBackend"


def test_the_right_password_is_refused_after_too_many_failures(staff):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for n in range(1, settings.AXES_FAILURE_LIMIT + 1):
        response = admin_login(client, staff.username, "wrong-password")
        # The form again, until the failure that reaches the limit locks the pair out.
        assert response.status_code == (429 if n == settings.AXES_FAILURE_LIMIT else 200)
    response = admin_login(client, staff.username, PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)
    # Per username and address: the same account from elsewhere still logs in.
    elsewhere = Client(REMOTE_ADDR="198.51.100.9")
    assert admin_login(elsewhere, staff.username, PASSWORD).status_code == 302
    assert logged_in(elsewhere)


def test_fewer_failures_do_not_lock_and_a_success_clears_them(staff):
    client = Client(REMOTE_ADDR="203.0.113.8")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        admin_login(client, staff.username, "wrong-password")
    assert admin_login(client, staff.username, PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username=staff.username).exists()


def test_api_token_login_works_and_is_locked_the_same_way(staff):
    api = APIClient(REMOTE_ADDR="203.0.113.9")
    good = {"username": staff.username, "password": PASSWORD}
    response = api.post("/api/v1/auth/token/", good, format="json")
    assert response.status_code == 200 and response.json()["token"]
    bad = {"username": staff.username, "password": "wrong-password"}
    for n in range(1, settings.AXES_FAILURE_LIMIT + 1):
        answer = api.post("/api/v1/auth/token/", bad, format="json").status_code
        assert answer == (429 if n == settings.AXES_FAILURE_LIMIT else 400)
    refused = api.post("/api/v1/auth/token/", good, format="json")
    assert refused.status_code == 429
    assert "token" not in refused.json()
    # ... and that lockout holds for the admin login from that address too.
    assert (
        admin_login(Client(REMOTE_ADDR="203.0.113.9"), staff.username, PASSWORD).status_code == 429
    )


def test_the_test_clients_login_still_works(staff):
    client = Client()
    assert client.login(username=staff.username, password=PASSWORD)
    assert logged_in(client)


def test_login_records_are_for_superusers_only(staff):
    get_user_model()  # the staff account holds no permission on them; nor may it see them
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/axes/accessattempt/").status_code == 403
