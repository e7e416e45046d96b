"""A stand-in OAuth 2.0 token endpoint (RFC 6749 4.4, client credentials), for tests.

It checks what a real authorization server checks: a POST of
`application/x-www-form-urlencoded`, `grant_type=client_credentials`, the
client authenticated with HTTP Basic (section 2.3.1), and answers with the
section 5.1 JSON or a section 5.2 error. Its tokens are unsigned JWTs
(`alg: none`), which is what Kafka's unsecured OAUTHBEARER validator accepts.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from typing import Any

from tests.running import FakeHandler, HttpFake


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsecured_jwt(subject: str, lifetime: float, **claims: Any) -> str:
    now = time.time()
    header = {"alg": "none"}
    payload = {"sub": subject, "iat": int(now), "exp": int(now + lifetime), **claims}
    encode = _b64url
    return f"{encode(json.dumps(header).encode())}.{encode(json.dumps(payload).encode())}."


class TokenEndpoint(HttpFake):
    def __init__(
        self, client_id: str, client_secret: str, subject: str = "bridge", lifetime: float = 3600
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.subject = subject
        self.lifetime = lifetime
        self.grants: list[dict[str, str]] = []  # the form of every accepted request
        self.refused = 0
        endpoint = self

        class Handler(FakeHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                form = dict(urllib.parse.parse_qsl(self.body().decode()))
                status, answer = endpoint.answer(
                    self.path, self.headers.get("Content-Type", ""), self.headers, form
                )
                body = json.dumps(answer).encode()
                self.reply(status, body, "application/json", [("Cache-Control", "no-store")])

        super().__init__(Handler)
        self.url = f"{self.base_url}/oauth2/token"

    def answer(
        self, path: str, content_type: str, headers: Any, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if path != "/oauth2/token":
            return 404, {"error": "not_found"}
        if content_type.split(";")[0].strip() != "application/x-www-form-urlencoded":
            return 400, {"error": "invalid_request", "error_description": "not a form"}
        if self._client(headers.get("Authorization", "")) != (self.client_id, self.client_secret):
            self.refused += 1
            return 401, {"error": "invalid_client", "error_description": "bad client credentials"}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        self.grants.append(form)
        token = unsecured_jwt(self.subject, self.lifetime, scope=form.get("scope", ""))
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime}

    @staticmethod
    def _client(authorization: str) -> tuple[str, str] | None:
        """HTTP Basic of the form-encoded client id and secret (RFC 6749 2.3.1)."""
        scheme, _, credentials = authorization.partition(" ")
        if scheme != "Basic":
            return None
        try:
            client_id, _, secret = base64.b64decode(credentials).decode().partition(":")
        except ValueError:
            return None
        return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)
