"""Outbound HTTP to an address a user typed: only the public internet, never the server's own networks.

A user-typed upstream URL is checked twice. When it is saved, `check_url` refuses a query, a fragment or a
user name in it, resolves its host and refuses it if any address is loopback, private, link-local, multicast,
unspecified or reserved. Then on every connection, `GuardedAdapter` resolves the host again, checks every
address and connects to the very address it checked, so that a name answering differently later (DNS
rebinding) gains nothing. The Host header, TLS SNI and certificate checks still use the host name.

Hosts named in settings.USAGE_UPSTREAM_ALLOWED_HOSTS ("host" or "host:port") skip the address check: an
operator's explicit choice, for a development setup with an upstream on this machine.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from console.refusals import RuleViolation

DEFAULT_PORTS = {"http": 80, "https": 443}


class EgressRefused(RuleViolation):
    """The address may not be contacted. The message says why, in words fit for a form or a flash message,
    and never names the internal address a host resolved to."""


# Addresses ---------------------------------------------------------------------------------------


def is_public(address: str) -> bool:
    """True for an address on the public internet; False for anything internal, special or unreadable."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1 reaches 127.0.0.1
            return is_public(str(ip.ipv4_mapped))
        if ip.sixtofour is not None and not is_public(str(ip.sixtofour)):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def resolve(host: str, port: int) -> list[tuple[int, tuple]]:
    """(family, socket address) for each address of host; socket.gaierror if it has none."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not answers:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    return [(family, sockaddr) for family, _, _, _, sockaddr in answers]


def host_is_allowed(host: str, port: int) -> bool:
    """Whether the operator allowed this host (any port) or this host:port despite its internal address."""
    allowed = {entry.strip().lower() for entry in settings.USAGE_UPSTREAM_ALLOWED_HOSTS}
    if not allowed:
        return False
    host = host.strip("[]").lower()
    names = {host, f"[{host}]"} if ":" in host else {host}
    return any(name in allowed or f"{name}:{port}" in allowed for name in names)


# URLs --------------------------------------------------------------------------------------------


def url_host_port(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL fit for an upstream, or EgressRefused saying what is wrong."""
    if "?" in url or "#" in url:
        raise EgressRefused("Enter the API root only: an address with “?” or “#” in it is not accepted.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EgressRefused("The address or its port is not valid.") from None
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise EgressRefused("Use an http:// or https:// address.")
    if "@" in parts.netloc:
        raise EgressRefused(
            "Leave the user name and password out of the address: they go in Customer ID and Customer Secret."
        )
    if not parts.hostname:
        raise EgressRefused("The address has no host name.")
    return parts.hostname, port or DEFAULT_PORTS[parts.scheme.lower()]


def check_url(url: str) -> None:
    """Refuse (EgressRefused) an address a user typed unless every address its host resolves to is public."""
    host, port = url_host_port(url)
    if host_is_allowed(host, port):
        return
    try:
        answers = resolve(host, port)
    except (OSError, UnicodeError):
        raise EgressRefused(f"The host name {host} does not resolve.") from None
    if not all(is_public(sockaddr[0]) for _, sockaddr in answers):
        raise EgressRefused(
            f"{host} points to a loopback, private or otherwise internal address. "
            "Enter the upstream's address on the public internet."
        )


# Connections -------------------------------------------------------------------------------------


class _GuardedConnect:
    """Replaces urllib3's connect step: resolve, check every address, connect to a checked one."""

    def _new_conn(self):
        host = self.host.strip("[]")
        if host_is_allowed(host, self.port):
            return super()._new_conn()
        try:
            answers = resolve(host, self.port)
        except (OSError, UnicodeError) as error:
            raise NameResolutionError(self.host, self, error) from error
        if not all(is_public(sockaddr[0]) for _, sockaddr in answers):
            raise EgressRefused(f"{host} points to a loopback, private or otherwise internal address.")
        error = None
        for _, sockaddr in answers:
            try:
                return self._connect_to(sockaddr[0])
            except (NewConnectionError, ConnectTimeoutError) as failed:
                error = failed
        raise error

    def _connect_to(self, address: str):
        try:
            return create_connection(
                (address, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except TimeoutError as error:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from error
        except OSError as error:
            raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


class _GuardedHTTPConnection(_GuardedConnect, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnect, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose every connection goes through the address check, directly: a proxy would
    resolve the host itself, out of reach of the check, so proxies are not used."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

    def send(self, request, **kwargs):
        kwargs["proxies"] = {}
        return super().send(request, **kwargs)
