"""Tokens for SASL OAUTHBEARER: from an OIDC token endpoint, or from a file.

aiokafka asks its token provider for a token each time it opens a connection
to a broker, so a provider hands out a token that is still valid then: the
endpoint's is kept until most of its lifetime has passed, the file is read
again every time (whatever renews it, a sidecar or a projected Kubernetes
token, may have replaced it).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

from aiokafka.abc import AbstractTokenProvider
from aiokafka.errors import KafkaError

from bridge.settings import Settings

# A token is renewed once this share of its lifetime has passed, so that a
# connection never starts with one about to expire.
RENEW_AFTER = 0.8
# Lifetime assumed when the endpoint gives no `expires_in`.
DEFAULT_LIFETIME = 300.0
ENDPOINT_TIMEOUT = 10.0


class TokenError(KafkaError):  # type: ignore[misc]
    """No token could be had; the message is one line.

    A KafkaError, so that aiokafka treats it as a failed connection and retries.
    """

    def __str__(self) -> str:
        return str(self.args[0])  # without the class name KafkaError puts first


class ClientCredentialsTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """OAuth 2.0 client credentials grant (RFC 6749 4.4), the client authenticated with
    HTTP Basic as section 2.3.1 says every server must accept."""

    def __init__(self, endpoint: str, client_id: str, client_secret: str, scope: str = "") -> None:
        self._endpoint = endpoint
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._token = ""
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:  # one request when several connections open at once
            if not self._token or time.monotonic() >= self._renew_at:
                asked = time.monotonic()
                self._token, lifetime = await asyncio.to_thread(self._request)
                self._renew_at = asked + lifetime * RENEW_AFTER
            return self._token

    def _request(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        credentials = ":".join(
            urllib.parse.quote_plus(part) for part in (self._client_id, self._client_secret)
        )
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in config.py
            self._endpoint,
            data=urllib.parse.urlencode(form).encode(),
            headers={
                "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=ENDPOINT_TIMEOUT) as response:  # noqa: S310
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise TokenError(
                f"the OAuth token endpoint {self._endpoint} answered {error.code}: "
                f"{_oauth_error(error.read())}"
            ) from None
        except (OSError, ValueError) as error:
            raise TokenError(
                f"no token from the OAuth token endpoint {self._endpoint}: {error}"
            ) from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise TokenError(f"the OAuth token endpoint {self._endpoint} gave no access_token")
        lifetime = answer.get("expires_in", DEFAULT_LIFETIME)
        return token, float(lifetime) if isinstance(lifetime, int | float) else DEFAULT_LIFETIME


class TokenFileProvider(AbstractTokenProvider):  # type: ignore[misc]
    """A token kept fresh in a file by something else; read again for every connection."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)

    async def token(self) -> str:
        try:
            token = (await asyncio.to_thread(self._path.read_text)).strip()
        except OSError as error:
            raise TokenError(f"cannot read the OAuth token file {self._path}: {error}") from None
        if not token:
            raise TokenError(f"the OAuth token file {self._path} is empty")
        return token


@functools.cache  # one provider, and so one cached token, for every client of the process
def token_provider(settings: Settings) -> AbstractTokenProvider:
    if settings.kafka_sasl_oauth_token_file:
        return TokenFileProvider(settings.kafka_sasl_oauth_token_file)
    return ClientCredentialsTokenProvider(
        settings.kafka_sasl_oauth_token_endpoint_url,
        settings.kafka_sasl_oauth_client_id,
        settings.kafka_sasl_oauth_client_secret,
        settings.kafka_sasl_oauth_scope,
    )


def _oauth_error(body: bytes) -> str:
    """RFC 6749 5.2's `error` and `error_description`, or the start of the body."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body[:200].decode(errors="replace")
    if isinstance(answer, dict) and "error" in answer:
        description = answer.get("error_description")
        return f"{answer['error']}" + (f" ({description})" if description else "")
    return body[:200].decode(errors="replace")
