"""Expected signatures, computed by openssl rather than by the code under test."""

from __future__ import annotations

import subprocess


def openssl_vendor_signature(secret: str, message: bytes) -> str:
    """The platform's signature of `message`: URL-safe Base64 of HMAC-SHA1 under `secret`."""
    digest = subprocess.run(
        ["openssl", "dgst", "-sha1", "-hmac", secret, "-binary"],  # noqa: S607
        input=message,
        capture_output=True,
        check=True,
    ).stdout
    encoded = subprocess.run(
        ["openssl", "base64", "-A"],  # noqa: S607
        input=digest,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return encoded.translate(str.maketrans("+/", "-_"))


def openssl_gateway_signature(secret: str, message: bytes) -> str:
    """A gateway's `X-Callback-Signature`: `sha256=` and the hex HMAC-SHA256 of `message`."""
    digest = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", secret, "-hex", "-r"],  # noqa: S607
        input=message,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return "sha256=" + digest.split()[0]
