"""Property-based fuzzing of the API from its own OpenAPI schema: no 500s, valid answers.

One test per operation, each under its own id (`test_...[POST /api/v1/bookings/]`), so that
xdist runs every one of them; the run ends by saying how many were fuzzed."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from config.wsgi import application
from tests import factories
from tests.api import schema_check

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def token(db, settings):
    """A practitioner with hours, a single type and a series, so small ids mean something."""
    settings.THROTTLE_ENABLED = False
    owner = factories.practitioner()
    factories.appointment_type(owner, duration_minutes=30)
    factories.intake_series(owner)
    # As Django's test client does: keep the test's connection (and its transaction)
    # open across the WSGI requests instead of closing it after each one.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield Token.objects.get(user=owner.user).key
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_and_answers_match_the_schema(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
    )


def test_every_operation_of_the_served_schema_is_fuzzed_under_an_id_of_its_own(request):
    """xdist schedules tests by id: had two operations one id, one of them would never run
    (35 of 36 did not, once, and every run still passed)."""
    module = request.node.getparent(pytest.Module)
    fuzz = test_api_never_fails_and_answers_match_the_schema.__name__
    [collector] = [node for node in module.collect() if node.name == fuzz]
    items = collector.collect()
    for item in items:
        item.ihook.pytest_itemcollected(item=item)  # as a test session does with each item
    ids = [item.nodeid for item in items]
    assert len(set(ids)) == len(ids)
    assert {item.nodeid.removeprefix(f"{module.nodeid}::{fuzz}") for item in items} == {
        f"[{operation}]" for operation in schema_check.operations()
    }
