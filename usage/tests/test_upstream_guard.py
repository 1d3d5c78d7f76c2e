"""The usage upstream cannot be turned against the server's own networks, and never shows what it answered.

An Admin types the base URL: an address on loopback, a private network, link-local (cloud metadata) and the
like is refused when saved, and again on every connection (a name may resolve elsewhere by then). What an
upstream answers beyond its status never reaches a page, a stored result or a pull run's error.

Only loopback is ever contacted: names are answered by the fake resolver of conftest.py, and a connection to
any other address fails the test before it is made.
"""

import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.messages import get_messages
from django.urls import reverse

from usage import egress
from usage.client import UpstreamClient, UpstreamError
from usage.models import ProjectMapping, PullRun, Upstream
from usage.pulling import create_run, execute_run
from usage.tests.conftest import PUBLIC
from usage.tests.test_client import DAY, Reply, Sleeps, scripted

SECRET = "internal-secret-5be1c0"  # what an internal service would answer; never shown anywhere


@pytest.fixture
def admin_client(acme, client_for):
    return client_for(acme.users["admin"])


def in_turn(*answers):
    """A resolver answer that changes: each call gets the next one, the last for ever after."""
    queue = list(answers)
    return lambda: queue.pop(0) if len(queue) > 1 else queue[0]


def save(client, base_url, customer_id="cid", secret="a-secret"):
    return client.post(
        reverse("usage:settings"), {"base_url": base_url, "customer_id": customer_id, "customer_secret": secret}
    )


def last_message(response) -> str:
    return [str(message) for message in get_messages(response.wsgi_request)][-1]


def page(client, name) -> str:
    return client.get(reverse(name)).content.decode()


# Which addresses are public ------------------------------------------------------------------------

INTERNAL = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.10",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 around 127.0.0.1
    "2002:a00:1::",  # 6to4 around 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 around 127.0.0.1
    "2001:db8::1",
    "not an address",
    "",
]
PUBLIC_ADDRESSES = [PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::"]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_and_special_addresses_are_not_public(address):
    assert not egress.is_public(address)


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_are_public(address):
    assert egress.is_public(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/sandbox",
        "http://localhost/",
        "http://[::1]:80/",
        "http://[::ffff:127.0.0.1]/",
        "http://0x7f000001/",  # the C resolver reads integers, hexadecimal or not, as IPv4 addresses
        "http://2130706433/",
        "http://127.1/",
        "https://169.254.169.254/latest/meta-data",
    ],
)
def test_check_url_refuses_internal_hosts_however_they_are_written(url):
    with pytest.raises(egress.EgressRefused, match="internal address"):
        egress.check_url(url)


def test_check_url_accepts_a_name_with_public_addresses_only(resolver):
    resolver.answers["api.example.test"] = [PUBLIC, "2606:4700:4700::1111"]
    egress.check_url("https://api.example.test/v2")
    resolver.answers["api.example.test"] = [PUBLIC, "10.0.0.8"]  # one internal address is one too many
    with pytest.raises(egress.EgressRefused, match="internal address"):
        egress.check_url("https://api.example.test/v2")


def test_allowed_hosts_name_a_host_or_a_host_and_port(settings):
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = ["localhost", "127.0.0.1:9000", "[::1]:8000", " Sandbox.Local "]
    assert egress.host_is_allowed("localhost", 1234)
    assert egress.host_is_allowed("127.0.0.1", 9000) and not egress.host_is_allowed("127.0.0.1", 9001)
    assert egress.host_is_allowed("::1", 8000) and egress.host_is_allowed("[::1]", 8000)
    assert not egress.host_is_allowed("::1", 80)
    assert egress.host_is_allowed("sandbox.local", 443)
    egress.check_url("http://127.0.0.1:9000/x")  # allowed: no question asked
    with pytest.raises(egress.EgressRefused):
        egress.check_url("http://127.0.0.1:9001/x")
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = []
    assert not egress.host_is_allowed("localhost", 1234)


# Saving the base URL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://localhost:8000/x#", "“?” or “#”"),
        ("http://127.0.0.1/admin?", "“?” or “#”"),
        ("https://api.example.test/v1?x=1", "“?” or “#”"),
        ("https://api.example.test/#top", "“?” or “#”"),
        ("http://user:password@api.example.test/", "user name and password"),
        ("http://10.0.0.1/", "internal address"),
        ("http://192.168.0.1:8080/api", "internal address"),
        ("http://[::1]/", "internal address"),
        ("http://[::ffff:127.0.0.1]:8000/", "internal address"),
        ("http://169.254.169.254/latest/meta-data", "internal address"),
        ("http://localhost:8000/sandbox", "internal address"),
        ("http://0x7f000001/", "valid URL"),
        ("http://2130706433/", "valid URL"),
        ("http://api.example.test:99999/", ""),
        ("http://nowhere.invalid/", "does not resolve"),
    ],
)
def test_an_internal_or_odd_base_url_is_refused_with_a_form_error(acme, admin_client, url, error):
    response = save(admin_client, url)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get("base_url", []))
    assert errors and error in errors
    assert Upstream.objects.get(organization=acme.organization).base_url == ""


def test_a_host_name_that_resolves_to_an_internal_address_is_refused(acme, admin_client, resolver):
    resolver.answers["upstream.example.test"] = ["10.20.30.40"]
    response = save(admin_client, "https://upstream.example.test")
    errors = response.context["form"].errors["base_url"]
    assert errors == [
        "upstream.example.test points to a loopback, private or otherwise internal address. "
        "Enter the upstream's address on the public internet."
    ]
    assert "10.20.30.40" not in response.content.decode()  # where an internal name points is not told
    assert Upstream.objects.get(organization=acme.organization).base_url == ""


def test_a_public_base_url_is_saved(acme, admin_client):
    response = save(admin_client, "https://api.example.test/")
    assert response.status_code == 302
    assert Upstream.objects.get(organization=acme.organization).base_url == "https://api.example.test"


def test_an_allowed_host_may_be_saved(acme, admin_client, settings):
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = ["localhost:9000"]
    assert save(admin_client, "http://localhost:9000/sandbox").status_code == 302
    assert save(admin_client, "http://localhost:9001/sandbox").status_code == 200  # another port is not allowed


# Connecting ---------------------------------------------------------------------------------------


def test_a_name_that_later_resolves_to_loopback_is_refused_on_connect(acme, admin_client, resolver, upstream, settings):
    settings.USAGE_HTTP_RETRIES = 0
    internal = upstream(scripted(Reply(404, {"message": SECRET})))
    port = internal.server.server_address[1]
    resolver.answers["rebind.example.test"] = in_turn([PUBLIC], ["127.0.0.1"])
    assert save(admin_client, f"http://rebind.example.test:{port}").status_code == 302

    response = admin_client.post(reverse("usage:test_connection"))
    message = last_message(response)
    assert message == (
        f"Connection failed. Cannot call the upstream at http://rebind.example.test:{port}: "
        "rebind.example.test points to a loopback, private or otherwise internal address."
    )
    assert internal.seen == []  # nothing was sent
    stored = Upstream.objects.get(organization=acme.organization)
    assert stored.last_check_result.startswith("Failed: Cannot call the upstream")
    assert SECRET not in page(admin_client, "usage:settings")


def test_the_hourly_pull_is_refused_on_connect_too(acme, resolver, upstream, settings):
    settings.USAGE_HTTP_RETRIES = 0
    internal = upstream(scripted(Reply(500, SECRET)))
    port = internal.server.server_address[1]
    resolver.answers["rebind.example.test"] = ["127.0.0.1"]
    Upstream.objects.filter(organization=acme.organization).update(base_url=f"http://rebind.example.test:{port}")
    ProjectMapping.objects.create(project=acme.projects[0], upstream_project_id="p1")
    run = create_run(acme.organization, DAY, DAY, trigger=PullRun.Trigger.SCHEDULE, project=acme.projects[0])
    run = execute_run(run)
    assert run.status == PullRun.Status.FAILED and "internal address" in run.error
    assert internal.seen == []


def test_a_base_url_stored_around_the_form_is_checked_on_connect(acme, admin_client, upstream, settings):
    """Written as an integer, 127.0.0.1 passes no form, but a row may hold it (the admin site, an old row)."""
    settings.USAGE_HTTP_RETRIES = 0
    internal = upstream(scripted(Reply(200, {"projects": []})))
    port = internal.server.server_address[1]
    for url in (f"http://0x7f000001:{port}", f"http://2130706433:{port}", f"http://127.0.0.1:{port}/x#"):
        Upstream.objects.filter(organization=acme.organization).update(base_url=url)
        message = last_message(admin_client.post(reverse("usage:test_connection")))
        assert message.startswith("Connection failed.") and ("internal address" in message or "“#”" in message)
    assert internal.seen == []


def test_every_address_is_checked_and_the_checked_one_is_contacted(monkeypatch, resolver, upstream):
    """A name whose addresses all pass is contacted at the very address checked, with its own name as Host."""
    monkeypatch.setattr(egress, "is_public", lambda address: address == "127.0.0.1")  # loopback plays public
    server = upstream(scripted(Reply(200, {"projects": []})))
    port = server.server.server_address[1]
    resolver.answers["api.example.test"] = ["127.0.0.1"]
    client = UpstreamClient(f"http://api.example.test:{port}", "id", "secret", retries=0, guarded=True)
    assert client.projects() == []
    assert server.seen[0].headers["Host"] == f"api.example.test:{port}"

    resolver.answers["api.example.test"] = ["127.0.0.1", "10.9.8.7"]
    client = UpstreamClient(f"http://api.example.test:{port}", "id", "secret", retries=0, guarded=True)
    with pytest.raises(UpstreamError, match="internal address"):
        client.projects()
    assert len(server.seen) == 1


def self_signed(tmp_path, name: str) -> tuple[str, str]:
    """A certificate for `name` and its key, as files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


def test_tls_is_checked_against_the_host_name_while_connecting_to_the_checked_address(
    monkeypatch, resolver, upstream, tmp_path
):
    monkeypatch.setattr(egress, "is_public", lambda address: address == "127.0.0.1")  # loopback plays public
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they would win over session.verify
        monkeypatch.delenv(name, raising=False)
    cert_file, key_file = self_signed(tmp_path, "api.example.test")
    server = upstream(scripted(Reply(200, {"projects": []})))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    names = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    port = server.server.server_address[1]
    resolver.answers["api.example.test"] = resolver.answers["other.example.test"] = ["127.0.0.1"]

    client = UpstreamClient(f"https://api.example.test:{port}", "id", "secret", retries=0, guarded=True)
    client.session.verify = cert_file
    assert client.projects() == []
    assert names == ["api.example.test"] and server.seen[0].headers["Host"] == f"api.example.test:{port}"

    client = UpstreamClient(f"https://other.example.test:{port}", "id", "secret", retries=0, guarded=True)
    client.session.verify = cert_file
    with pytest.raises(UpstreamError, match="the TLS connection failed"):
        client.projects()  # the certificate is for another name
    assert len(server.seen) == 1


def test_a_proxy_from_the_environment_does_not_bypass_the_check(monkeypatch, resolver, upstream):
    proxy = upstream(scripted(Reply(200, {"projects": []})))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "")
    resolver.answers["inside.example.test"] = ["10.0.0.3"]
    client = UpstreamClient("http://inside.example.test", "id", "secret", retries=0, guarded=True)
    with pytest.raises(UpstreamError, match="internal address"):
        client.projects()
    assert proxy.seen == []


def test_the_built_in_upstream_is_the_operators_and_not_guarded(acme):
    upstream = acme.organization.upstream
    assert not UpstreamClient.for_upstream(upstream).guarded
    upstream.base_url = "https://api.example.test"
    assert UpstreamClient.for_upstream(upstream).guarded


def test_redirects_are_not_followed(acme, admin_client, upstream, settings):
    settings.USAGE_HTTP_RETRIES = 0
    target = upstream(scripted(Reply(200, {"projects": [], "note": SECRET})))
    hop = upstream(scripted(Reply(302, "", {"Location": f"{target.url}/dev/v1/projects"})))
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [urlsplit(hop.url).netloc, urlsplit(target.url).netloc]
    Upstream.objects.filter(organization=acme.organization).update(base_url=hop.url)
    message = last_message(admin_client.post(reverse("usage:test_connection")))
    assert "302 Found, a redirect, which is not followed" in message
    assert len(hop.seen) == 1 and target.seen == []


# What an upstream answered is never shown ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"message": SECRET}),
        (500, {"message": SECRET}),
        (503, SECRET),
        (401, f"<html><body>{SECRET}</body></html>"),
        (400, {"message": SECRET * 20}),
        (200, f"<html>{SECRET}</html>"),  # not JSON
        (200, {"projects": [{"id": SECRET, "vendor_key": 5}]}),  # not the expected shape
    ],
)
def test_test_connection_shows_the_status_never_the_body(acme, admin_client, upstream, settings, status, body):
    settings.USAGE_HTTP_RETRIES = 0
    server = upstream(scripted(Reply(status, body)))
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [urlsplit(server.url).netloc]
    assert save(admin_client, server.url).status_code == 302

    response = admin_client.post(reverse("usage:test_connection"), follow=True)
    message = [str(m) for m in response.context["messages"]][-1]
    assert message.startswith("Connection failed.")
    if status != 200:
        assert f" {status} " in message
    html = response.content.decode() + page(admin_client, "usage:settings") + page(admin_client, "usage:mappings")
    assert SECRET not in html
    assert SECRET not in Upstream.objects.get(organization=acme.organization).last_check_result
    assert server.seen  # the server was asked: the body was there to leak


def test_bad_usage_values_are_refused_without_repeating_them(upstream):
    entry = {"date": f"{DAY}T00:00:00Z", "usage": {"durationVideoHd": SECRET}}
    server = upstream(scripted(Reply(200, {"usages": [entry]})))
    client = UpstreamClient(server.url, "id", "secret", retries=0)
    with pytest.raises(UpstreamError, match="durationVideoHd") as raised:
        client.usage("p1", DAY, DAY)
    assert SECRET not in str(raised.value)

    server = upstream(scripted(Reply(200, {"usages": [{"date": SECRET, "usage": {}}]})))
    with pytest.raises(UpstreamError, match="cannot be read") as raised:
        UpstreamClient(server.url, "id", "secret", retries=0).usage("p1", DAY, DAY)
    assert SECRET not in str(raised.value)


class Banner:
    """A service that is not HTTP (think of Redis or SMTP): it answers any connection with one line."""

    def __init__(self, line: bytes):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.line = line
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(self.line)

    def close(self):
        self.sock.close()


@pytest.fixture
def banner():
    service = Banner(f"-ERR {SECRET}\r\n".encode())
    yield service
    service.close()


def test_a_service_that_is_not_http_does_not_leak_its_banner(acme, admin_client, banner, settings):
    settings.USAGE_HTTP_RETRIES = 0
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [urlsplit(banner.url).netloc]
    Upstream.objects.filter(organization=acme.organization).update(base_url=banner.url)

    message = last_message(admin_client.post(reverse("usage:test_connection")))
    assert message == f"Connection failed. Cannot reach the upstream at {banner.url}: the answer is not HTTP."

    run = create_run(acme.organization, DAY, DAY, trigger=PullRun.Trigger.CONSOLE)
    run = execute_run(run)
    assert run.status == PullRun.Status.FAILED and "Cannot reach the upstream" in run.error
    assert SECRET not in run.error
    assert SECRET not in page(admin_client, "usage:sync") + page(admin_client, "usage:settings")


def test_a_refused_connection_and_a_missing_name_are_told_in_our_words(settings, resolver):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    client = UpstreamClient(f"http://127.0.0.1:{port}", "id", "secret", retries=0, guarded=True, sleep=Sleeps())
    with pytest.raises(UpstreamError, match="connection refused"):
        client.projects()
    client = UpstreamClient("http://gone.example.invalid", "id", "secret", retries=0, guarded=True)
    with pytest.raises(UpstreamError, match="the host name does not resolve"):
        client.projects()
