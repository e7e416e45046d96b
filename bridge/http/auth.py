"""Who may post: pure ASGI, in front of everything but the health and metrics routes.

The platform can only be given a URL, so its credential is a secret token in
the path (`/callbacks/<kind>/<token>`) or the query (`?token=`). Gateways and
other senders may use a header token or an HMAC-SHA256 signature of the body.
Every credential presented must be valid, and at least one must be presented.
The platform's own signature (`bridge.http.vendor_signature`), when turned on, is
checked on top: with `required` it must be there, with `optional` it must be
right when it is there. An IP allow-list, when set, applies before any of them.

Who the client is: the peer address of the connection, unless that peer is one
of `BRIDGE_TRUSTED_PROXIES`; then `X-Forwarded-For`, walked from the right to
the first hop that is not a trusted proxy. Nothing else is believed: uvicorn's
own proxy-header handling is off (see `bridge.http.server`), and `Forwarded`
(RFC 7239) and `X-Real-IP` are ignored whoever sends them, since a proxy that
does not set them passes a client's own values through.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from bridge.deadlines import Deadlines
from bridge.errors import CallbackError, Forbidden, Unauthenticated
from bridge.http.answers import send_error
from bridge.http.body import read_body, replaying
from bridge.http.routes import PUBLIC_PATHS, callback_path
from bridge.http.vendor_signature import VendorKeys, VendorSignatureError
from bridge.metrics import Metrics
from bridge.settings import Settings

log = logging.getLogger("bridge.http.auth")


UNAUTHENTICATED_REFUSAL = (
    "no BRIDGE_AUTH_TOKENS set; refusing to accept unauthenticated callbacks "
    "(set BRIDGE_VENDOR_SIGNATURE=required with BRIDGE_VENDOR_KEYS, "
    "or BRIDGE_ALLOW_UNAUTHENTICATED=true for local development)"
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """Why a request is refused: a bounded `reason` for metrics, and the answer."""

    def __init__(self, reason: str, error: CallbackError) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


def networks(cidrs: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]


def client_address(scope: Scope, trusted_proxies: Sequence[Network]) -> str | None:
    """The caller's address, believing `X-Forwarded-For` only as far as trusted proxies go."""
    peer: str | None = scope["client"][0] if scope.get("client") else None
    if peer is None or not _within(peer, trusted_proxies):
        return peer
    forwarded: list[str] = [
        address.strip()
        for name, value in scope["headers"]
        if name == b"x-forwarded-for"
        for address in value.decode("latin-1").split(",")
    ]
    # Walk back from the nearest hop; the first untrusted address is the client.
    for address in reversed(forwarded):
        if not _within(address, trusted_proxies):
            return address
    return forwarded[0] if forwarded else peer


def authenticates(settings: Settings) -> bool:
    """Whether callbacks must carry a credential: a token, an HMAC or the vendor's signature."""
    return bool(
        settings.auth_tokens or settings.hmac_secrets or settings.vendor_signature == "required"
    )


def check_credentials(settings: Settings) -> None:
    """Raise `ValueError`, one line, when the settings cannot authenticate as they ask."""
    _vendor_keys(settings)
    if not authenticates(settings) and not settings.allow_unauthenticated:
        raise ValueError(UNAUTHENTICATED_REFUSAL)


def _vendor_keys(settings: Settings) -> VendorKeys | None:
    if settings.vendor_signature == "off":
        return None
    mode = f"BRIDGE_VENDOR_SIGNATURE={settings.vendor_signature}"
    if not settings.vendor_keys:
        raise ValueError(f"{mode} needs BRIDGE_VENDOR_KEYS (AccessKey:SecretKey pairs)")
    if not settings.public_url:
        raise ValueError(
            f"{mode} needs BRIDGE_PUBLIC_URL, the callback URL's base as the platform calls it"
        )
    return VendorKeys(settings.vendor_keys, settings.public_url)


def _within(address: str, nets: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def _matches(presented: bytes, secrets: Sequence[bytes]) -> bool:
    # Compare against every secret, so the time taken does not tell which one nearly matched.
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(presented, secret)
    return found


class Authenticator:
    def __init__(
        self, app: ASGIApp, settings: Settings, metrics: Metrics, body_deadlines: Deadlines
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.tokens = [token.encode() for token in settings.auth_tokens]
        self.hmac_secrets = [secret.encode() for secret in settings.hmac_secrets]
        self.token_header = settings.auth_header.lower().encode()
        self.signature_header = settings.hmac_signature_header.lower().encode()
        self.timestamp_header = settings.hmac_timestamp_header.lower().encode()
        self.tolerance = settings.hmac_tolerance_seconds
        self.allowed = networks(settings.allowed_cidrs)
        self.trusted_proxies = networks(settings.trusted_proxies)
        check_credentials(settings)
        self.vendor = _vendor_keys(settings)
        self.vendor_required = settings.vendor_signature == "required"
        # Tokens and HMAC secrets are the gateway credentials; without any, only
        # the vendor signature (or nothing, in development) is checked.
        self.unauthenticated = not self.tokens and not self.hmac_secrets
        self.body_limit = settings.max_body_bytes
        self.body_deadlines = body_deadlines
        self.retry_after = settings.retry_after_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            # Everything that can be decided from the headers is, before any body is read.
            self.check_address(scope)
            authorization = self.vendor_authorization(scope)
            signed = None
            # A signature is checked when no token is presented, and also next to a
            # valid one: every credential presented must be valid.
            if not self.unauthenticated and (
                not self.check_tokens(scope) or self.signature_presented(scope)
            ):
                signed = self.signature_of(scope)
            if signed is not None or authorization is not None:
                body = await read_body(
                    scope, receive, limit=self.body_limit, deadlines=self.body_deadlines
                )
                if signed is not None:
                    self.check_signature(*signed, body)
                if authorization is not None and self.vendor is not None:
                    self.check_vendor_signature(self.vendor, authorization, scope, body)
                receive = replaying(body, receive)
        except Refused as refused:
            self.metrics.auth_failures.labels(refused.reason).inc()
            log.warning("refused", extra={"reason": refused.reason, "status": refused.error.status})
            await send_error(send, refused.error, self.retry_after)
            return
        except CallbackError as error:  # the body of a signed request was too large or slow
            await send_error(send, error, self.retry_after)
            return
        await self.app(scope, receive, send)

    def check_address(self, scope: Scope) -> None:
        if not self.allowed:
            return
        address = client_address(scope, self.trusted_proxies)
        if address is None or not _within(address, self.allowed):
            raise Refused("address", Forbidden("Address not allowed"))

    def vendor_authorization(self, scope: Scope) -> bytes | None:
        """The `Authorization` header to verify, if any; `Refused` when it is due but absent."""
        if self.vendor is None:
            return None
        presented = [value for name, value in scope["headers"] if name == b"authorization"]
        if len(presented) > 1:
            raise Refused("vendor_ambiguous", Unauthenticated("More than one Authorization header"))
        if not presented and self.vendor_required:
            raise Refused("vendor_missing", Unauthenticated("Missing vendor signature"))
        return bytes(presented[0]) if presented else None

    def check_vendor_signature(
        self, vendor: VendorKeys, authorization: bytes, scope: Scope, body: bytes
    ) -> None:
        # The path as it arrived, undecoded: the platform signs the URL it was given.
        raw_path = bytes(scope.get("raw_path") or scope["path"].encode())
        try:
            vendor.verify(authorization, raw_path, body)
        except VendorSignatureError as error:
            raise Refused(error.reason, Unauthenticated(error.message)) from None

    def check_tokens(self, scope: Scope) -> bool:
        """True when a valid token is presented; `Refused` when a presented one is wrong.

        False when none is presented: the signature is the last chance.
        """
        presented = self._presented_tokens(scope)
        if not presented:
            return False
        if not all(_matches(token, self.tokens) for token in presented):
            raise Refused("invalid_token", Unauthenticated("Invalid callback credentials"))
        return True

    def _presented_tokens(self, scope: Scope) -> list[bytes]:
        presented = []
        parsed = callback_path(scope["path"])
        if parsed is not None and parsed.token is not None:
            presented.append(parsed.token.encode())
        if scope["query_string"]:  # the platform's callbacks have none: spare the parsing
            query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            in_query = query.get("token", [])
            if len(in_query) > 1:
                raise Refused("ambiguous", Unauthenticated("More than one token parameter"))
            presented.extend(token.encode() for token in in_query)
        presented.extend(value for name, value in scope["headers"] if name == self.token_header)
        return presented

    def signature_presented(self, scope: Scope) -> bool:
        """Whether the request carries a signature this bridge can check."""
        return bool(self.hmac_secrets) and any(
            name == self.signature_header for name, _ in scope["headers"]
        )

    def signature_of(self, scope: Scope) -> tuple[bytes, bytes]:
        """The signature and its timestamp, checked for presence and freshness."""
        headers = dict(scope["headers"])
        signature = headers.get(self.signature_header)
        timestamp = headers.get(self.timestamp_header)
        if not self.hmac_secrets or signature is None:
            raise Refused("missing", Unauthenticated("Missing callback credentials"))
        if timestamp is None or not timestamp.isdigit():
            raise Refused(
                "bad_signature", Unauthenticated("Missing or malformed signature timestamp")
            )
        if abs(time.time() - int(timestamp)) > self.tolerance:
            raise Refused("expired", Unauthenticated("Signature timestamp outside the tolerance"))
        return signature, timestamp

    def check_signature(self, signature: bytes, timestamp: bytes, body: bytes) -> None:
        signed = timestamp + b"." + body
        expected = [
            hmac.new(secret, signed, hashlib.sha256).hexdigest().encode()
            for secret in self.hmac_secrets
        ]
        given = signature.removeprefix(b"sha256=").lower()
        if not any(hmac.compare_digest(given, digest) for digest in expected):
            raise Refused("bad_signature", Unauthenticated("Invalid signature"))
