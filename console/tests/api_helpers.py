"""Calling the native API in tests as a member, with an API credential (HTTP Basic) as scripts do."""

import base64
import json

from accounts.api_credentials import create_credential


def authorization(membership) -> str:
    """The Authorization header of a new API credential acting for `membership`."""
    pair = create_credential(membership, "tests")
    return "Basic " + base64.b64encode(f"{pair.credential.customer_id}:{pair.secret}".encode()).decode()


def basic_auth(membership) -> dict:
    """The same, as Django test client keyword arguments."""
    return {"HTTP_AUTHORIZATION": authorization(membership)}


class Api:
    """The test client with one member's credential on every request; bodies are JSON."""

    def __init__(self, client, membership):
        self.client = client
        self.headers = basic_auth(membership)

    def get(self, url: str, params=None):
        return self.client.get(url, params or {}, **self.headers)

    def post(self, url: str, body=None):
        return self.client.post(url, json.dumps(body or {}), content_type="application/json", **self.headers)

    def patch(self, url: str, body):
        return self.client.patch(url, json.dumps(body), content_type="application/json", **self.headers)


def message(response) -> str:
    """The {"message": ...} of an error answer (and nothing else in it)."""
    body = response.json()
    assert set(body) == {"message"}, body
    return body["message"]
