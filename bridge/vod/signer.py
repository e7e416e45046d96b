"""Signing API requests as the platform's "Signature calculation" page describes.

Both schemes compute the same signature; they differ in header names and the
algorithm's name. There is no key derivation chain: the secret key signs the
string to sign directly. Pure: the caller gives the time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

Scheme = Literal["ws3", "cnc"]


@dataclass(frozen=True, slots=True)
class SchemeHeaders:
    algorithm: str
    access_key: str
    timestamp: str
    extra: tuple[tuple[str, str], ...] = ()


SCHEMES: dict[Scheme, SchemeHeaders] = {
    "ws3": SchemeHeaders("WS3-HMAC-SHA256", "X-WS-AccessKey", "X-WS-Timestamp"),
    "cnc": SchemeHeaders(
        "CNC-HMAC-SHA256",
        "x-cnc-accessKey",
        "x-cnc-timestamp",
        (("x-cnc-auth-method", "AKSK"),),
    ),
}

# The headers the documentation signs by default.
SIGNED_HEADERS = ("content-type", "host")


def canonical_request(
    method: str, url: str, headers: dict[str, str], body: bytes, signed: tuple[str, ...]
) -> str:
    """Method, path, query, signed headers and the body's digest, one per line."""
    parts = urlsplit(url)
    lowered = {name.lower(): value for name, value in headers.items()}
    names = sorted(name.lower() for name in signed)
    canonical_headers = "".join(f"{name}:{lowered[name].lower()}\n" for name in names)
    # POST signs no query; GET signs the query as sent, URL-decoded.
    query = unquote(parts.query) if method.upper() == "GET" else ""
    return "\n".join(
        [
            method.upper(),
            parts.path or "/",
            query,
            canonical_headers,
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def string_to_sign(algorithm: str, timestamp: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{algorithm}\n{timestamp}\n{digest}"


def signed_headers(
    *,
    scheme: Scheme,
    access_key: str,
    secret_key: str,
    method: str,
    url: str,
    body: bytes,
    content_type: str,
    timestamp: int,
) -> dict[str, str]:
    """Every header the request must carry: Host, Content-Type, the scheme's and Authorization."""
    names = SCHEMES[scheme]
    stamp = str(timestamp)
    headers = {"Host": urlsplit(url).netloc, "Content-Type": content_type}
    canonical = canonical_request(method, url, headers, body, SIGNED_HEADERS)
    signature = hmac.new(
        secret_key.encode(), string_to_sign(names.algorithm, stamp, canonical).encode(), "sha256"
    ).hexdigest()
    headers[names.access_key] = access_key
    headers[names.timestamp] = stamp
    headers.update(names.extra)
    headers["Authorization"] = (
        f"{names.algorithm} Credential={access_key}, "
        f"SignedHeaders={';'.join(SIGNED_HEADERS)}, Signature={signature}"
    )
    return headers
