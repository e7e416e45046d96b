"""The platform's own notification signature.

The platform sends `Authorization: <AccessKey>:<signature>`, where the
signature is the URL-safe Base64 of HMAC-SHA1 over
`<notify URL without its query> + "\\n" + <body as sent>`, keyed with the
SecretKey of whichever of the account's key pairs it picked at random. So the
bridge holds every pair and picks the secret by the AccessKey in the header.

The notify URL is the one configured at the platform, which the bridge cannot
see behind an ingress: it is `BRIDGE_PUBLIC_URL` (scheme, host and any path
prefix the ingress strips) followed by the path of the request as it arrived,
undecoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


class VendorSignatureError(Exception):
    """Why a signature does not verify: a bounded `reason` for metrics, and a message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class VendorKeys:
    def __init__(self, pairs: Iterable[str], public_url: str) -> None:
        self.secrets: dict[bytes, bytes] = {}
        for pair in pairs:
            access_key, _, secret_key = pair.partition(":")
            if access_key.encode() in self.secrets:
                raise ValueError(f"BRIDGE_VENDOR_KEYS names the AccessKey {access_key} twice")
            self.secrets[access_key.encode()] = secret_key.encode()
        self.base_url = public_url.rstrip("/").encode()

    def signed_url(self, raw_path: bytes) -> bytes:
        return self.base_url + raw_path

    def verify(self, authorization: bytes, raw_path: bytes, body: bytes) -> None:
        """Return when `authorization` signs this request; raise `VendorSignatureError`."""
        access_key, colon, signature = authorization.strip().rpartition(b":")
        if not colon or not access_key or not signature:
            raise VendorSignatureError(
                "vendor_malformed", "Authorization is not <AccessKey>:<signature>"
            )
        secret = self.secrets.get(access_key)
        if secret is None:
            raise VendorSignatureError("vendor_unknown_key", "Unknown vendor AccessKey")
        digest = hmac.new(secret, self.signed_url(raw_path) + b"\n" + body, hashlib.sha1)
        expected = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=")
        # Padding carries nothing: accept the signature with or without it.
        if not hmac.compare_digest(signature.rstrip(b"="), expected):
            raise VendorSignatureError("vendor_bad_signature", "Invalid vendor signature")
