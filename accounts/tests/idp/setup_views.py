"""How the test side adds people and client applications while the provider runs.

Two JSON endpoints guarded by IDP_SETUP_TOKEN, a random value only the process that started this server
knows (`Authorization: Bearer <token>`). They exist in this test project only. An endpoint rather than
a `manage.py shell` per call keeps each addition to a few milliseconds instead of a Django start-up.
"""

import hmac
import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from .models import Person


def _authorized(request) -> bool:
    expected = f"Bearer {settings.SETUP_TOKEN}"
    return hmac.compare_digest(request.headers.get("Authorization", ""), expected)


def setup_endpoint(view):
    """POST only, no CSRF (no cookies involved), the setup token required, a JSON body parsed."""

    @csrf_exempt
    @require_POST
    def guarded(request):
        if not _authorized(request):
            return HttpResponse("setup token required", status=403, content_type="text/plain")
        try:
            body = json.loads(request.body)
        except ValueError:
            return HttpResponse("JSON body expected", status=400, content_type="text/plain")
        return view(body)

    return guarded


@setup_endpoint
def add_user(body: dict) -> JsonResponse:
    """{"email", "password", "name", "email_verified"} -> 201 {"sub"}; the username is the address."""
    email = body["email"]
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=email, email=email, password=body["password"])
        Person.objects.create(user=user, name=body.get("name", ""), email_verified=body.get("email_verified", True))
    return JsonResponse({"sub": str(user.pk)}, status=201)


@setup_endpoint
def add_client(body: dict) -> JsonResponse:
    """{"redirect_uri", "name"} -> 201 {"client_id", "client_secret"}: a confidential client for the
    authorization-code grant with RS256 ID tokens and no consent screen. The secret is stored hashed
    (django-oauth-toolkit's default), so this answer is the only place it is readable."""
    client_secret = generate_client_secret()
    Application = get_application_model()
    application = Application.objects.create(
        name=body.get("name", "console under test"),
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=body["redirect_uri"],
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
        client_secret=client_secret,
        hash_client_secret=True,
    )
    return JsonResponse({"client_id": application.client_id, "client_secret": client_secret}, status=201)
