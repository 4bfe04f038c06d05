"""Where webhooks may be sent. A merchant chooses the URL, so without checks a webhook is a way
to make our servers call anything they can reach (SSRF): the cloud metadata service, the
database, the admin of a router.

In production (WEBHOOK_ALLOW_PRIVATE_TARGETS off) a URL must be https, carry no credentials, and
its host must resolve only to public addresses: no loopback, private, link-local, shared,
reserved or multicast address, including IPv4 addresses mapped into IPv6. The check runs when an
endpoint is registered and again before every request, and the request is then sent to the very
address that was checked (the URL's host goes in the Host header and in TLS SNI, and the
certificate is verified against it), so a DNS answer that changes between check and connect
(DNS rebinding) cannot redirect it.

With WEBHOOK_ALLOW_PRIVATE_TARGETS on (unset, it follows DEBUG: on for `make run`, off in
production), http and private targets are accepted, for receivers on the developer's machine."""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from .errors import InvalidWebhookUrl

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"https": 443, "http": 80}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to `addresses` in order, naming `host` in Host and SNI."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def sni_hostname(self) -> str | None:
        return self.host if self.scheme == "https" else None

    def url_for(self, address: str) -> str:
        netloc = f"[{address}]:{self.port}" if ":" in address else f"{address}:{self.port}"
        return urlunsplit((self.scheme, netloc, self.path, "", ""))


def private_targets_allowed() -> bool:
    allowed = settings.WEBHOOK_ALLOW_PRIVATE_TARGETS
    return settings.DEBUG if allowed is None else allowed


def url_validate(url: str) -> str:
    """The URL as given, if an endpoint may be registered with it; raises InvalidWebhookUrl."""
    _scheme, host, port, _path = _parse(url)
    if not private_targets_allowed():
        _check_addresses(host, _resolve(host, port))
    return url


def target_resolve(url: str) -> Target:
    """Checks the URL again, now, and returns where to connect. Raises InvalidWebhookUrl."""
    scheme, host, port, path = _parse(url)
    addresses = _resolve(host, port)
    if not private_targets_allowed():
        _check_addresses(host, addresses)
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=tuple(str(a) for a in addresses))


def address_is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _parse(url: str) -> tuple[str, str, int, str]:
    if not isinstance(url, str) or not url:
        raise InvalidWebhookUrl("Give the URL the events are sent to.")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(char.isspace() or ord(char) < 32 or ord(char) > 126 for char in url):
        raise InvalidWebhookUrl(
            "The URL may not contain spaces, control or non-ASCII characters (percent-encode them)."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidWebhookUrl("The URL is not valid.") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or (scheme == "http" and not private_targets_allowed()):
        raise InvalidWebhookUrl("The URL must start with https://.")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("The URL may not contain a user name or password.")
    host = parts.hostname
    if not host:
        raise InvalidWebhookUrl("The URL must name a host.")
    if port == 0:
        raise InvalidWebhookUrl("The URL's port is not valid.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port or _DEFAULT_PORTS[scheme], path


def _resolve(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise InvalidWebhookUrl(f"The host {host} could not be resolved.") from exc
    addresses: list[Address] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # An IPv6 sockaddr may carry a zone ("fe80::1%eth0"); such addresses are link-local.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise InvalidWebhookUrl(f"The host {host} could not be resolved.")
    return addresses


def _check_addresses(host: str, addresses: list[Address]) -> None:
    # Every address must be public: a name that also resolves to a private address would let
    # the connection land on it.
    refused = [str(address) for address in addresses if not address_is_public(address)]
    if refused:
        raise InvalidWebhookUrl(
            f"The host {host} resolves to an address that is not public ({', '.join(refused)}): "
            "webhooks are only sent to the public internet."
        )
