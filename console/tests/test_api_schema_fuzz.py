"""Schema fuzzing: schemathesis reads /api/schema/ and sends generated requests, valid and invalid, to every
operation of it, in-process through the Django WSGI application (no network). The caller is Acme's Admin with
an API credential, so requests get past authentication and reach the views. No answer may be a 5xx, and every
answer must be one the schema documents: status, content type, headers (X-Request-ID) and body.

Generated path parameters rarely name a real object, so about half of them are replaced by Acme's own (a
project, a member, a role, a statement) to fuzz the bodies and queries of the views behind the lookups too.
"""

import os
import zlib

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from console.tests.api_helpers import authorization
from console.tests.test_permission_matrix import billing_objects
from console.wsgi import application

EXAMPLES_PER_OPERATION = 50
# The same examples on every run (a fixed seed per operation), so that `make test` and CI are repeatable.
# CONSOLE_FUZZ_RANDOM=1 explores new examples on each run: do that when changing the API.
EXPLORE = os.environ.get("CONSOLE_FUZZ_RANDOM") == "1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def real(acme) -> dict:
    """Acme's objects, by the name of the path parameter that names them."""
    return {
        "project_id": [project.project_id for project in acme.projects],
        "number": [billing_objects(acme)["billing:invoice"]["number"]],
        "members": [acme.membership("engineer").pk],
        "roles": [role.pk for role in acme.roles.values()],
    }


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes database connections when a request ends; here the request runs inside the
    test's transaction, on its connection, so keep it open (as Django's test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_credential(acme) -> dict:
    return {"Authorization": authorization(acme.membership("admin"))}


def use_real_objects(case, real: dict) -> None:
    """Replace about half of the generated path parameters by Acme's objects (chosen by the generated value,
    so that Hypothesis can still shrink and replay a failure)."""
    for name, value in list((case.path_parameters or {}).items()):
        key = name
        if name == "id":
            key = "members" if "/members/" in case.operation.path else "roles"
        choices = real.get(key)
        if not choices:
            continue
        pick = zlib.crc32(str(value).encode())
        if pick % 2:
            case.path_parameters[name] = choices[pick // 2 % len(choices)]


# Loaded once, when the tests are collected: the schema view needs no database. (schemathesis's lazy loader,
# pytest.from_fixture, relies on a pytest internal that pytest 9 no longer has.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=not EXPLORE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_answers_5xx_or_off_schema(case, real, admin_credential):
    use_real_objects(case, real)
    case.call_and_validate(headers=admin_credential, checks=CHECKS)
