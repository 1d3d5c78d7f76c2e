"""Name resolution and outbound connections in the usage tests: no DNS query ever leaves this machine, and a
connection to anything but loopback fails the test before it is made."""

import ipaddress
import socket

import pytest

PUBLIC = "93.184.215.14"  # a public address names resolve to in tests; loopback_only never lets it be contacted
REAL_GETADDRINFO = socket.getaddrinfo


class Resolver:
    """Stands in for socket.getaddrinfo. `answers` maps a host name to its addresses (a list, or a function
    returning one, to answer differently each time). IP literals, and the numeric forms the C resolver accepts
    (2130706433, 0x7f000001, 127.1), answer themselves; localhost is 127.0.0.1; names under .test are PUBLIC;
    any other name does not resolve."""

    def __init__(self):
        self.answers: dict = {}
        self.asked: list[str] = []

    def addresses(self, host: str) -> list[str]:
        host = host.lower().rstrip(".")
        self.asked.append(host)
        if host in self.answers:
            answer = self.answers[host]
            return list(answer() if callable(answer) else answer)
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            pass
        try:
            return [socket.inet_ntoa(socket.inet_aton(host))]
        except OSError:
            pass
        if host == "localhost":
            return ["127.0.0.1"]
        if host.endswith(".test"):
            return [PUBLIC]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002  (socket's names)
        if host is None:
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        if isinstance(host, bytes):
            host = host.decode()
        port = int(port or 0)
        results = []
        for address in self.addresses(host):
            if ":" in address:
                entry = (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
            else:
                entry = (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            if family in (0, socket.AF_UNSPEC, entry[0]):
                results.append(entry)
        if not results:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return results


@pytest.fixture(autouse=True)
def resolver(monkeypatch) -> Resolver:
    fake = Resolver()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Any socket of the test process may connect to loopback only: anything else is a test gone wrong, stopped
    before a packet leaves (whether or not the code under test guards its connections)."""
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock, address):
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        host = str(address[0])
        try:
            loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise AssertionError(f"a test tried to connect to {host}")

    def checked_connect(sock, address):
        check(sock, address)
        return connect(sock, address)

    def checked_connect_ex(sock, address):
        check(sock, address)
        return connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", checked_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", checked_connect_ex)


@pytest.fixture
def upstream():
    """`upstream(answer)` starts a fake upstream on 127.0.0.1; every one started is stopped after the test."""
    from .test_client import FakeUpstream  # the fake lives with the client's tests, its first users

    started = []

    def start(answer):
        fake = FakeUpstream(answer)
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.close()
