"""One door into a session: the Django admin's sign-in page sends everyone to the console's, so the failure
limits hold there too; and the client address those limits count by, behind trusted proxies or not."""

import pytest
from django.contrib.auth import get_user
from django.test import Client, RequestFactory

from accounts.audit import client_ip
from accounts.models import User
from conftest import PASSWORD

LOGIN = "/accounts/login/"
LOCKED = "Too many failed sign-in attempts"


def post_login(client, email, password, **headers):
    return client.post(LOGIN, {"username": email, "password": password}, **headers)


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root@console.test", PASSWORD)


def test_the_admin_sign_in_page_is_the_consoles(superuser):
    client = Client()
    response = client.get("/admin/login/?next=/admin/billing/")
    assert response.status_code == 302 and response["Location"] == f"{LOGIN}?next=%2Fadmin%2Fbilling%2F"
    # Signing in there with the admin's next address lands in the admin.
    response = client.post(f"{LOGIN}?next=/admin/", {"username": superuser.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_locked_out_account_cannot_sign_in_through_the_admin(superuser):
    client = Client()
    for _ in range(5):
        post_login(client, superuser.email, "wrong-password", REMOTE_ADDR="10.0.0.7")
    # The right password at the admin's page: no form is checked there any more, nobody is signed in.
    response = client.post("/admin/login/", {"username": superuser.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert not get_user(client).is_authenticated
    response = post_login(client, superuser.email, PASSWORD, REMOTE_ADDR="10.0.0.8")
    assert LOCKED in response.content.decode() and not get_user(client).is_authenticated


def test_a_member_without_staff_rights_is_told_not_looped(acme, client_for):
    client = client_for(acme.users["admin"])
    assert client.get("/admin/").status_code == 302  # the admin sends non-staff to its sign-in page...
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 403  # ...which says so instead of sending them round again
    assert "cannot open the site administration" in response.content.decode()


def test_only_a_local_next_address_is_kept(db):
    response = Client().get("/admin/login/?next=https://evil.example/")
    assert response["Location"] == f"{LOGIN}?next=%2Fadmin%2F"


def request_from(remote: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no trusted proxy: the header is the client's word, ignored
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # what the client wrote before the proxy's entry
        (2, "6.6.6.6, 203.0.113.9, 10.1.1.1", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.1"),  # fewer hops than proxies: not through them
        (1, "not-an-address", "10.0.0.1"),
        (1, "", "10.0.0.1"),
        (1, None, "10.0.0.1"),
        (1, " 2001:db8::1 ", "2001:db8::1"),
    ],
)
def test_the_client_address_behind_trusted_proxies(settings, trusted, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = trusted
    assert client_ip(request_from("10.0.0.1", forwarded)) == expected


def test_behind_a_proxy_one_clients_failures_do_not_lock_out_the_others(acme, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    attacker = Client()
    for number in range(5):  # five accounts, so only the address limit can bite
        post_login(attacker, f"nobody{number}@acme.test", "x", HTTP_X_FORWARDED_FOR="198.51.100.66", **proxy)
    response = post_login(attacker, "admin@acme.test", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.66", **proxy)
    assert LOCKED in response.content.decode()
    other = Client()
    response = post_login(other, "admin@acme.test", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy)
    assert response.status_code == 302 and get_user(other).is_authenticated
    # The attacker cannot pose as the other client: what it writes first in the header is ignored.
    spoofed = "203.0.113.5, 198.51.100.66"
    response = post_login(attacker, "admin@acme.test", PASSWORD, HTTP_X_FORWARDED_FOR=spoofed, **proxy)
    assert LOCKED in response.content.decode()
