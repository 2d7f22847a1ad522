"""Login lockout (django-axes): per username and address (an IPv6 /64 is one address), per
account across addresses (the practitioner gets one e-mail per lock), admin login and API
token login."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
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


# --- per account, across addresses (issue 20) ---------------------------------------------


@pytest.fixture
def practitioner_account(settings):
    """A practitioner with an e-mail address, and the account limit the README documents."""
    settings.AXES_ACCOUNT_FAILURE_LIMIT = 20
    person = factories.practitioner()
    person.email = "praktijk@example.nl"
    person.save()
    return person


def workspace_login(client: Client, username: str, password: str):
    """The practitioner's own login (any practitioner, staff or not): 302 when it works."""
    return client.post("/praktijk/inloggen/", {"username": username, "password": password})


def _lock_mails():
    """Deliver the outbox; the messages about a locked login."""
    from django.core import mail

    from sync import outbox

    outbox.deliver_due(now=timezone.now())
    return [m for m in mail.outbox if "praktijk@example.nl" in m.to]


def test_wrong_passwords_from_many_addresses_lock_the_account_everywhere(practitioner_account):
    """26 addresses, 4 wrong passwords each (never the per-address limit of 5): the account
    is refused from the 20th failure on, from any address, right password or not."""
    username = practitioner_account.user.username
    answers = []
    for n in range(1, 27):
        client = Client(REMOTE_ADDR=f"127.0.0.{n}")
        answers += [admin_login(client, username, "wrong-password").status_code for _ in range(4)]
    limit = settings.AXES_ACCOUNT_FAILURE_LIMIT
    assert answers == [200] * (limit - 1) + [429] * (104 - limit + 1)
    fresh = Client(REMOTE_ADDR="198.51.100.77")
    assert admin_login(fresh, username, PASSWORD).status_code == 429
    assert workspace_login(fresh, username, PASSWORD).status_code == 429
    api = APIClient(REMOTE_ADDR="198.51.100.78")
    good = {"username": username, "password": PASSWORD}
    assert api.post("/api/v1/auth/token/", good, format="json").status_code == 429
    # One e-mail for this lock, however many attempts were refused during it.
    [message] = _lock_mails()
    assert "geblokkeerd" in message.subject
    assert username in message.body and "104" not in message.body
    # Another account is not affected.
    other = factories.practitioner()
    elsewhere = Client(REMOTE_ADDR="127.0.0.1")  # one of the addresses that guessed
    assert workspace_login(elsewhere, other.user.username, PASSWORD).status_code == 302


def test_the_account_lock_ends_after_the_cool_off_and_a_new_lock_mails_again(
    practitioner_account,
):
    import time_machine

    username = practitioner_account.user.username
    limit = settings.AXES_ACCOUNT_FAILURE_LIMIT
    for n in range(limit):
        admin_login(Client(REMOTE_ADDR=f"127.0.1.{n + 1}"), username, "wrong-password")
    assert admin_login(Client(REMOTE_ADDR="127.0.2.1"), username, PASSWORD).status_code == 429
    assert len(_lock_mails()) == 1
    later = timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        assert (
            workspace_login(Client(REMOTE_ADDR="127.0.2.1"), username, PASSWORD).status_code == 302
        )
        for n in range(limit):
            admin_login(Client(REMOTE_ADDR=f"127.0.3.{n + 1}"), username, "wrong-password")
        assert admin_login(Client(REMOTE_ADDR="127.0.2.1"), username, PASSWORD).status_code == 429
        assert len(_lock_mails()) == 2


def test_every_address_of_one_ipv6_64_counts_as_one_address(practitioner_account):
    """26 addresses of one /64, 4 wrong passwords each: the fifth failure locks the /64,
    as it would lock one IPv4 address; another /64 still logs in. The attempts refused
    after the fifth are no guesses (no password was checked): one address counts at most
    AXES_FAILURE_LIMIT towards the account's limit, so one address alone never locks it."""
    username = practitioner_account.user.username
    answers = []
    for n in range(1, 27):
        client = Client(REMOTE_ADDR=f"2001:db8:1:2::{n:x}")
        answers += [admin_login(client, username, "wrong-password").status_code for _ in range(4)]
    pair_limit = settings.AXES_FAILURE_LIMIT
    assert answers[: pair_limit - 1] == [200] * (pair_limit - 1)
    assert set(answers[pair_limit - 1 :]) == {429}
    same_64 = Client(REMOTE_ADDR="2001:db8:1:2:ffff:1:2:3")
    assert admin_login(same_64, username, PASSWORD).status_code == 429
    elsewhere = Client(REMOTE_ADDR="2001:db8:1:3::1")
    assert workspace_login(elsewhere, username, PASSWORD).status_code == 302
    assert _lock_mails() == []  # a locked address is not a locked account: no e-mail


def test_an_account_limit_of_zero_turns_the_account_lock_off(practitioner_account, settings):
    settings.AXES_ACCOUNT_FAILURE_LIMIT = 0
    username = practitioner_account.user.username
    for n in range(1, 27):
        client = Client(REMOTE_ADDR=f"127.0.0.{n}")
        for _ in range(4):
            assert admin_login(client, username, "wrong-password").status_code == 200
    assert workspace_login(Client(REMOTE_ADDR="127.0.0.1"), username, PASSWORD).status_code == 302
    assert _lock_mails() == []


def test_the_lock_mail_says_what_happened_in_dutch(practitioner_account):
    username = practitioner_account.user.username
    for n in range(settings.AXES_ACCOUNT_FAILURE_LIMIT):
        admin_login(Client(REMOTE_ADDR=f"192.0.2.{n % 7 + 1}"), username, "wrong-password")
    [message] = _lock_mails()
    assert message.subject == "Inloggen op uw account is tijdelijk geblokkeerd"
    assert (
        f'is 20 keer geprobeerd met een verkeerd wachtwoord in te loggen op uw account "{username}"'
        ", vanaf 7 verschillende adressen." in message.body
    )
    assert "ook met het juiste wachtwoord" in message.body
    assert f"python manage.py axes_reset_username {username}" in message.body
    html = message.alternatives[0][0]
    assert "verschillende adressen" in html and "<code>" in html
